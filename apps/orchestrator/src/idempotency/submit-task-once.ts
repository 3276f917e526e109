import { VolleyError } from '@volley/shared';
import { z } from 'zod';
import type { TaskRecord } from '../tasks/task-record.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { type IdempotencyRecords, pollPause, sleep } from './idempotency-records.ts';

/**
 * A claim whose task has not appeared this long after it was made is given up: the request that
 * made it failed before writing the task (or died). Creating a task is a few commands, each
 * bounded by the request connection's command timeout, so a live request writes well within it.
 */
export const STALE_CLAIM_MS = 10_000;

const claimSchema = z.object({
  fingerprint: z.string(),
  task_id: z.string(),
  claimed_at: z.number(),
  /** Set once the task was written: a claim that says so but finds no task outlived it (deleted, expired). */
  created: z.boolean().optional(),
});
type Claim = z.infer<typeof claimSchema>;

export interface SubmitOnceInput {
  /** The record's Redis key (see `idempotencyRecordKey`). */
  key: string;
  fingerprint: string;
  /** A new task id (in the record's shard). */
  newId: () => string;
  /** Creates the task under the given id; a 4xx it throws must come before anything is written. */
  create: (id: string) => Promise<TaskRecord>;
  /** The Redis key of the record of task `id` (`TaskStore.keysOf(id)[0]`). */
  recordKey: (id: string) => string;
}

/**
 * `POST /v1/tasks` with an `Idempotency-Key`: the first request claims the key with the id of the
 * task it is about to create, then creates it, so the key never names a task that nobody is
 * creating. A retry (sequential or concurrent) finds the claim and answers that task, waiting
 * briefly while it is being written. A retry with another body is a 422. A claim whose task never
 * appeared (its request failed after claiming) is taken over once stale, atomically, so of several
 * retries one creates. A key whose task is gone (deleted, expired) is free again.
 */
export async function submitTaskOnce(
  deps: { records: IdempotencyRecords; store: TaskStore },
  input: SubmitOnceInput,
): Promise<{ task: TaskRecord; replayed: boolean }> {
  const { records } = deps;
  const deadline = Date.now() + STALE_CLAIM_MS + 5_000;
  for (let attempt = 0; Date.now() < deadline; attempt += 1) {
    const id = input.newId();
    const mine = JSON.stringify({ fingerprint: input.fingerprint, task_id: id, claimed_at: Date.now() } satisfies Claim);
    if (await claimOrRelease(records, input.key, mine)) return { task: await createUnder(records, input, id, mine), replayed: false };

    const current = await records.read(input.key);
    if (current === null) continue; // expired or given back just now: claim it again
    const claim = claimSchema.parse(JSON.parse(current));
    if (claim.fingerprint !== input.fingerprint) {
      throw new VolleyError('idempotency_key_reused', 'this Idempotency-Key was used with another request body; use a new key for a new request');
    }
    const task = await deps.store.get(claim.task_id);
    if (task) return { task, replayed: true };
    if (claim.created || Date.now() - claim.claimed_at >= STALE_CLAIM_MS) {
      if (await records.swap(input.key, current, mine)) return { task: await createUnder(records, input, id, mine), replayed: false };
      continue;
    }
    await sleep(pollPause(attempt));
  }
  throw new VolleyError('idempotency_key_in_use', 'a request with this Idempotency-Key is still being handled; retry shortly');
}

/** Claims the key; when Redis did not answer (the claim may yet land), gives it back behind the claim. */
async function claimOrRelease(records: IdempotencyRecords, key: string, value: string): Promise<boolean> {
  try {
    return await records.claim(key, value);
  } catch (error) {
    records.releaseAfterFailure(key, value);
    throw error;
  }
}

async function createUnder(records: IdempotencyRecords, input: SubmitOnceInput, id: string, claim: string): Promise<TaskRecord> {
  let task: TaskRecord;
  try {
    task = await input.create(id);
  } catch (error) {
    // Refused before anything was written: the key is free for a corrected request. After a Redis
    // failure the task may have been written anyway: the key is given back only if it was not.
    if (VolleyError.isInstance(error) && error.status < 500) await records.release(input.key, claim).catch(() => undefined);
    else records.releaseAfterFailure(input.key, claim, input.recordKey(id));
    throw error;
  }
  const created = JSON.stringify({ ...(JSON.parse(claim) as Claim), created: true } satisfies Claim);
  await records.swap(input.key, claim, created).catch(() => undefined);
  return task;
}
