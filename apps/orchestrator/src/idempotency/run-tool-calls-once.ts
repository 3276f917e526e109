import { randomUUID } from 'node:crypto';
import { VolleyError, type Logger } from '@volley/shared';
import { z } from 'zod';
import { type IdempotencyRecords, pollPause, sleep } from './idempotency-records.ts';

/** How long past the first request's `timeout_ms` a duplicate waits for its recorded answer. */
const ANSWER_SLACK_MS = 5_000;

const recordSchema = z.discriminatedUnion('state', [
  /** `request`: this claim's own id, so a request only ever gives back its own claim. */
  z.object({ state: z.literal('running'), fingerprint: z.string(), claimed_at: z.number(), timeout_ms: z.number(), request: z.string().optional() }),
  z.object({ state: z.literal('done'), fingerprint: z.string(), answer: z.unknown() }),
]);
type IdempotencyRecord = z.infer<typeof recordSchema>;

export interface RunOnceInput<T> {
  key: string;
  fingerprint: string;
  /** The fan-out's `timeout_ms`: it answers by then, so a duplicate waits that long (and a little). */
  timeoutMs: number;
  /** Runs the fan-out; calls `beforeEnqueue` just before its calls are put on the queues. */
  run: (beforeEnqueue: () => void) => Promise<T>;
  /** Told once, when this request starts waiting for the answer of the first, still running. */
  onWaiting?: () => void;
}

/**
 * `POST /v1/tool-calls` with an `Idempotency-Key`: the first request claims the key as `running`,
 * runs the fan-out and records its answer under the key; a duplicate — concurrent or later — never
 * fans out again: it answers the recorded answer, waiting for it while the first still runs (up to
 * the first's `timeout_ms` and a few seconds). A request that failed before enqueueing anything
 * gives the key back; one that failed after (Redis stopped answering) leaves it `running`, and a
 * duplicate that outwaits it is told 409 `idempotency_key_in_use`: the calls may have run, and only
 * a new key runs them again.
 */
export async function runToolCallsOnce<T>(
  deps: { records: IdempotencyRecords; logger: Logger },
  input: RunOnceInput<T>,
): Promise<{ answer: T; replayed: boolean }> {
  const { records } = deps;
  let waiting = false;
  for (let attempt = 0; ; attempt += 1) {
    const mine = JSON.stringify({
      state: 'running',
      fingerprint: input.fingerprint,
      claimed_at: Date.now(),
      timeout_ms: input.timeoutMs,
      request: randomUUID(),
    } satisfies IdempotencyRecord);
    let claimed: boolean;
    try {
      claimed = await records.claim(input.key, mine);
    } catch (error) {
      records.releaseAfterFailure(input.key, mine); // the claim may land when Redis wakes; this lands after it
      throw error;
    }
    if (claimed) return { answer: await runUnder(deps, input, mine), replayed: false };

    const current = await records.read(input.key);
    if (current === null) continue; // given back or expired just now: claim it again
    const record = recordSchema.parse(JSON.parse(current));
    if (record.fingerprint !== input.fingerprint) {
      throw new VolleyError('idempotency_key_reused', 'this Idempotency-Key was used with another request body; use a new key for a new request');
    }
    if (record.state === 'done') return { answer: record.answer as T, replayed: true };
    if (Date.now() > record.claimed_at + record.timeout_ms + ANSWER_SLACK_MS) {
      throw new VolleyError(
        'idempotency_key_in_use',
        'the request that first used this Idempotency-Key recorded no answer (it failed or its process died); its calls may have run — use a new key to run them again',
      );
    }
    if (!waiting) input.onWaiting?.();
    waiting = true;
    await sleep(pollPause(attempt));
  }
}

async function runUnder<T>(deps: { records: IdempotencyRecords; logger: Logger }, input: RunOnceInput<T>, claim: string): Promise<T> {
  let enqueued = false;
  let answer: T;
  try {
    answer = await input.run(() => {
      enqueued = true;
    });
  } catch (error) {
    // Nothing was enqueued: the key is free again (at once for a refused request, behind the
    // failed commands when Redis did not answer). Once enqueued, the calls may run: the key stays.
    if (!enqueued) {
      if (VolleyError.isInstance(error) && error.status < 500) await deps.records.release(input.key, claim).catch(() => undefined);
      else deps.records.releaseAfterFailure(input.key, claim);
    }
    throw error;
  }
  const done = JSON.stringify({ state: 'done', fingerprint: input.fingerprint, answer } satisfies IdempotencyRecord);
  // The caller gets its answer even when it cannot be recorded; a duplicate then gets the 409.
  await deps.records.swap(input.key, claim, done).catch((error: unknown) => deps.logger.warn({ err: error }, 'idempotent tool-calls answer not recorded'));
  return answer;
}
