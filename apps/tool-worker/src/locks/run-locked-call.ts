import { randomUUID } from 'node:crypto';
import { lockTicket, ToolError, type CallError, type ToolCallJobData, type ToolCallResult } from '@volley/shared';
import { DelayedError, type Job } from 'bullmq';
import type { CallResults } from '../call-results.ts';
import { CANCELLED_ERROR, RetryableToolFailure, type CallOutcome } from '../execute-tool.ts';
import type { PreparedCall } from '../prepare-call.ts';
import type { JobWaker } from './job-waker.ts';
import { normalizeClaims, type Claim } from './resource-claims.ts';
import type { ResourceLocks } from './resource-locks.ts';

export interface LockingDeps {
  locks: ResourceLocks;
  waker: JobWaker;
  results: CallResults;
  /** How long a parked call sleeps before it looks again, should every wake-up be missed. */
  parkMs: number;
}

export interface LockedCall {
  job: Job;
  token: string | undefined;
  lock: NonNullable<ToolCallJobData['lock']>;
  prepared: PreparedCall;
  /** The call was cancelled: it leaves every line it stands in without running. */
  cancelled?: boolean;
  idempotencyKey: string;
  /** Runs the tool with what the locks grant it, and when it queued for them. */
  run(grant: {
    fencingToken?: number | Record<string, number>;
    lockAbort?: AbortSignal;
    waits?: { registeredAt: number; acquiredAt: number };
  }): Promise<CallOutcome>;
  /** Builds the call's result value; `startedAt` is when the tool started, if it did. */
  finish(outcome: { content: string } | { error: CallError }, timing?: { startedAt: number; lockWaitMs?: number }): ToolCallResult;
}

/**
 * A call that takes resource locks: declare its claims in its message's plan (so calls queue in
 * model order), wait parked — a delayed job, holding no worker slot — until it is first in every
 * line it stands in, run under a renewed lease, record the result under the idempotency key,
 * then let go and wake whoever is next. Throws DelayedError when it parks.
 */
export async function runLockedCall(deps: LockingDeps, call: LockedCall): Promise<ToolCallResult> {
  const { job, lock, prepared } = call;
  const ticket = lockTicket(job.queueName, job.id!);
  // One run of the call is one holder: a redelivery that takes over makes this one's renewals fail.
  const holder = randomUUID();
  let claims: Claim[] = [];
  let failure: CallError | undefined = prepared.ok ? undefined : prepared.error;
  if (prepared.ok) {
    try {
      claims = claimsOf(prepared, lock);
    } catch (error) {
      failure = { code: 'invalid_resources', message: `the tool's resources could not be derived: ${(error as Error).message}` };
    }
  }
  const records = prepared.ok && prepared.loaded.tool.sideEffects === true;

  if (records) {
    const recorded = await deps.results.get(call.idempotencyKey);
    if (recorded) {
      await leave(deps, ticket, '*', claims);
      return recorded;
    }
  }

  // A cancelled or failed call declares nothing, so siblings waiting for its declaration go on.
  const registered = await deps.locks.register(lock, ticket, call.cancelled || failure ? [] : claims);
  if (registered.completedPlan) await deps.waker.wake(lock.siblings.filter((sibling) => sibling !== ticket));
  if (call.cancelled) {
    // It may already stand in lines (it parked before the cancel): leave them, waking who is next.
    await leave(deps, ticket, '*', claims);
    return call.finish({ error: CANCELLED_ERROR });
  }
  if (failure) return call.finish({ error: failure });
  if (!registered.ready) return park(deps, call, async () => (await deps.locks.register(lock, ticket, claims)).ready);
  if (claims.length === 0) {
    const startedAt = Date.now();
    return call.finish(final(await call.run({})), { startedAt });
  }

  const acquired = await deps.locks.acquire(ticket, holder, claims);
  if (!acquired.acquired) {
    return park(deps, call, () => deps.locks.wouldAcquire(ticket, holder, claims), acquired.retryAfterMs);
  }
  const acquiredAt = Date.now();
  const lockWaitMs = Math.max(0, acquiredAt - registered.registeredAt);

  const lost = new AbortController();
  const renewal = setInterval(() => {
    deps.locks
      .renew(ticket, holder, claims)
      .then((held) => held || lost.abort(new ToolError('the call lost its resource lock (its lease lapsed)', { code: 'lock_lost' })))
      .catch(() => undefined);
  }, Math.max(50, Math.floor(deps.locks.leaseMs / 3)));
  const startedAt = Date.now();
  let outcome: CallOutcome;
  try {
    outcome = await call.run({
      fencingToken: fencingTokenOf(claims, acquired.fences),
      lockAbort: lost.signal,
      waits: { registeredAt: registered.registeredAt, acquiredAt },
    });
  } finally {
    clearInterval(renewal);
  }
  if ('retry' in outcome) {
    // It keeps its place in line: the retry still runs before the calls behind it.
    await deps.waker.wake(await deps.locks.release(ticket, holder, claims, { keepPlace: true }));
    throw new RetryableToolFailure(outcome.retry);
  }
  const result = call.finish(outcome, { startedAt, lockWaitMs });
  // Recorded before the job completes: a redelivery from here on is answered from the record.
  if (records) await deps.results.put(call.idempotencyKey, result);
  await leave(deps, ticket, holder, claims);
  return result;
}

async function leave(deps: LockingDeps, ticket: string, holder: string, claims: readonly Claim[]): Promise<void> {
  await deps.waker.wake(await deps.locks.release(ticket, holder, claims, { keepPlace: false }));
}

function final(outcome: CallOutcome): { content: string } | { error: CallError } {
  if ('retry' in outcome) throw new RetryableToolFailure(outcome.retry);
  return outcome;
}

function claimsOf(prepared: Extract<PreparedCall, { ok: true }>, lock: NonNullable<ToolCallJobData['lock']>): Claim[] {
  const { tool } = prepared.loaded;
  const declared = tool.resources ? tool.resources(prepared.args) : tool.sideEffects ? [`tool:${tool.name}`] : [];
  const sequential = lock.sequential ? [`sequence:${lock.group}`] : [];
  return normalizeClaims([...declared, ...sequential]);
}

function fencingTokenOf(claims: readonly Claim[], fences: readonly number[]): number | Record<string, number> {
  if (claims.length === 1) return fences[0]!;
  return Object.fromEntries(claims.map((claim, index) => [claim.key, fences[index]!]));
}

/**
 * Parks the job as delayed, freeing its slot. Whoever frees the resource promotes it; the
 * re-check after parking catches a release that happened while it was on its way.
 */
async function park(deps: LockingDeps, call: LockedCall, ready: () => Promise<boolean>, wakeInMs?: number): Promise<never> {
  // Waiting out its own old holder's lease: nobody will wake it, so it sets its own alarm.
  const delay = wakeInMs === undefined ? deps.parkMs : Math.min(deps.parkMs, wakeInMs + 10);
  await call.job.moveToDelayed(Date.now() + delay, call.token);
  if (await ready().catch(() => false)) await call.job.promote().catch(() => undefined);
  throw new DelayedError();
}
