import { randomUUID } from 'node:crypto';
import { lockTicket, type CallError, type Logger, type ToolCallJobData, type ToolCallResult } from '@volley/shared';
import { ToolError } from '@volley/tools';
import { DelayedError, type Job } from 'bullmq';
import type { CallResults } from '../call-results.ts';
import { CANCELLED_ERROR, RetryableToolFailure, type CallOutcome } from '../execute-tool.ts';
import type { PreparedCall } from '../prepare-call.ts';
import type { JobWaker } from './job-waker.ts';
import { renewLease } from './lease-renewal.ts';
import type { OverrunHolds } from './overrun-holds.ts';
import { compareClaims, declaredKey, normalizeClaims, sequenceClaim, type Claim } from './resource-claims.ts';
import type { ResourceLocks } from './resource-locks.ts';
import { wakeIfDue } from './wake-if-due.ts';

export interface LockingDeps {
  locks: ResourceLocks;
  waker: JobWaker;
  results: CallResults;
  /** Holds the locks of calls answered while their tool's body still runs. */
  overruns: OverrunHolds;
  /** How long a parked call sleeps before it looks again, should every wake-up be missed. */
  parkMs: number;
  /** How long a call waits for its locks at most (from its first declaration) before `lock_timeout`. */
  lockWaitTimeoutMs: number;
  /** The approval state of the call of this ticket, if it asked for one (see blockerApproval). */
  blockerApproval?: (ticket: string) => Promise<{ pending: true } | { pending: false; decidedAt: number } | undefined>;
  logger: Logger;
}

export interface LockedCall {
  job: Job;
  token: string | undefined;
  /** The job's validated data. */
  data: ToolCallJobData;
  lock: NonNullable<ToolCallJobData['lock']>;
  prepared: PreparedCall;
  /** The call was cancelled: it leaves every line it stands in without running. */
  cancelled?: boolean;
  idempotencyKey: string;
  /** When its lock wait starts counting, if later than its declaration (a call approved only now). */
  waitFrom?: number;
  /** Told each time the call is about to park for its locks (before it does). */
  onPark?: () => Promise<void>;
  /** Whether the call was taken back since it was picked up (cancelled, its task ended, its turn gathered): looked at once parked. */
  takenBack?: () => Promise<boolean>;
  /** Runs the tool with what the locks grant it, and when it queued for them. */
  run(grant: {
    fencingToken?: number | Record<string, number>;
    lockAbort?: AbortSignal;
    waits?: { registeredAt: number; acquiredAt: number };
    /** Told when the call answers while the tool's body still runs (see executeTool). */
    onOverrun?: (body: Promise<unknown>) => void;
  }): Promise<CallOutcome>;
  /** Builds the call's result value; `startedAt` is when the tool started, if it did. */
  finish(outcome: { content: string } | { error: CallError }, timing?: { startedAt?: number; lockWaitMs?: number }): ToolCallResult;
}

/**
 * A call that takes resource locks: declare its claims in its message's plan (so calls queue in
 * model order), wait parked — a delayed job, holding no worker slot — until it is first in every
 * line it stands in, or until its wait ends (`lock_timeout`), run under a renewed lease, record
 * the result under the idempotency key, then let go and wake whoever is next (or, when the
 * call answered while its tool's body still runs, keep holding until the body settles or is
 * abandoned). Throws DelayedError when it parks.
 */
export async function runLockedCall(deps: LockingDeps, call: LockedCall): Promise<ToolCallResult> {
  const { job, data, lock, prepared } = call;
  const ticket = lockTicket(job.queueQualifiedName, job.id!);
  // One run of the call is one holder: a redelivery that takes over makes this one's renewals fail.
  const holder = randomUUID();
  let claims: Claim[] = [];
  let failure: CallError | undefined = prepared.ok ? undefined : prepared.error;
  if (prepared.ok) {
    try {
      claims = claimsOf(prepared, lock, data.tenant ?? null);
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
  // The wait ends at the lock wait timeout or the job's deadline, whichever comes first.
  const deadline = data.deadline ?? Number.POSITIVE_INFINITY;
  // A call approved only now waits for its locks from its approval on.
  const waitStart = Math.max(registered.registeredAt, call.waitFrom ?? 0);
  const waitEnds = Math.min(waitStart + deps.lockWaitTimeoutMs, deadline);
  const timedOut = async (): Promise<ToolCallResult> => {
    await leave(deps, ticket, '*', claims);
    const waited = Date.now() - waitStart;
    const message =
      Date.now() >= deadline
        ? `the call reached its deadline after waiting ${waited} ms for its resources; it did not run`
        : `the call waited ${waited} ms for its resources, the most it may (VOLLEY_LOCK_WAIT_TIMEOUT_MS); it did not run`;
    return call.finish({ error: { code: 'lock_timeout', message } }, { lockWaitMs: Math.max(0, waited) });
  };
  if (!registered.ready) {
    if (Date.now() >= waitEnds) return timedOut();
    return park(deps, call, async () => (await deps.locks.register(lock, ticket, claims)).ready, waitEnds);
  }
  if (claims.length === 0) {
    const startedAt = Date.now();
    return call.finish(final(await call.run({})), { startedAt });
  }
  // Past its deadline it could not run anyway: it takes nothing.
  if (Date.now() >= deadline) return timedOut();

  const acquired = await deps.locks.acquire(ticket, holder, claims);
  if (!acquired.acquired) {
    // A redelivery waiting out its own old run's lease held the lock already: only its deadline binds.
    const ends = acquired.retryAfterMs === undefined ? waitEnds : deadline;
    if (Date.now() >= ends) {
      if (acquired.retryAfterMs === undefined && Date.now() < deadline && (await heldUpByApproval(deps, acquired.blockedBy))) {
        return park(deps, call, () => deps.locks.wouldAcquire(ticket, holder, claims), Math.min(Date.now() + deps.parkMs, deadline));
      }
      return timedOut();
    }
    return park(deps, call, () => deps.locks.wouldAcquire(ticket, holder, claims), ends, acquired.retryAfterMs);
  }
  const acquiredAt = Date.now();
  const lockWaitMs = Math.max(0, acquiredAt - waitStart);
  const fencingToken = fencingTokenOf(claims, acquired.fences);

  const lost = new AbortController();
  const renewal = renewLease(deps.locks, ticket, holder, claims, () =>
    lost.abort(new ToolError('the call lost its resource lock (its lease lapsed)', { code: 'lock_lost' })),
  );
  let overrun: Promise<unknown> | undefined;
  let heldOn = false;
  try {
    const startedAt = Date.now();
    const outcome = await call.run({
      ...(fencingToken === undefined ? {} : { fencingToken }),
      lockAbort: lost.signal,
      waits: { registeredAt: registered.registeredAt, acquiredAt },
      onOverrun: (body) => {
        overrun = body;
      },
    });
    if ('retry' in outcome) {
      renewal.stop();
      // It keeps its place in line: the retry still runs before the calls behind it.
      await deps.waker.wake(await deps.locks.release(ticket, holder, claims, { keepPlace: true }));
      throw new RetryableToolFailure(outcome.retry);
    }
    const result = call.finish(outcome, { startedAt, lockWaitMs });
    if (overrun) {
      // Answered on time, but the body still runs: the locks stay held while it does.
      const tool = prepared.ok ? prepared.loaded.tool.name : data.name;
      deps.overruns.hold({
        ticket,
        holder,
        claims,
        renewal,
        lost: lost.signal,
        body: overrun,
        tool,
        taskId: data.taskId,
        toolCallId: data.toolCallId,
        fencingToken,
      });
      heldOn = true;
    }
    // Recorded before the job completes: a redelivery from here on is answered from the record.
    if (records && !(await deps.results.putWhileHolding(call.idempotencyKey, result, deps.locks, { ticket, holder, claims }))) {
      deps.logger.warn(
        { taskId: data.taskId, toolCallId: data.toolCallId },
        'result of a run that lost its locks not recorded: the redelivery of the call answers for it',
      );
    }
    if (heldOn) return result;
    renewal.stop();
    await leave(deps, ticket, holder, claims);
    return result;
  } finally {
    if (!heldOn) renewal.stop();
  }
}

/**
 * Behind a call that waits for a person, a call waits as long as that one may (model order
 * holds); behind one approved lately, a lock wait from that approval.
 */
async function heldUpByApproval(deps: LockingDeps, blocker: string): Promise<boolean> {
  const approval = await deps.blockerApproval?.(blocker).catch(() => undefined);
  if (!approval) return false;
  return approval.pending || Date.now() < approval.decidedAt + deps.lockWaitTimeoutMs;
}

async function leave(deps: LockingDeps, ticket: string, holder: string, claims: readonly Claim[]): Promise<void> {
  await deps.waker.wake(await deps.locks.release(ticket, holder, claims, { keepPlace: false }));
}

function final(outcome: CallOutcome): { content: string } | { error: CallError } {
  if ('retry' in outcome) throw new RetryableToolFailure(outcome.retry);
  return outcome;
}

export function claimsOf(prepared: Extract<PreparedCall, { ok: true }>, lock: NonNullable<ToolCallJobData['lock']>, tenant: string | null): Claim[] {
  const { tool } = prepared.loaded;
  const declared = tool.resources ? tool.resources(prepared.args) : tool.sideEffects ? [`tool:${tool.name}`] : [];
  const claims = normalizeClaims(declared, tenant);
  return lock.sequential ? [...claims, sequenceClaim(lock.group)].sort(compareClaims) : claims;
}

/**
 * The token the tool sees: one number when it declared one resource, an object keyed by the
 * declared keys for several, none when it declared none. Volley's own claims (a sequential
 * message's) are left out, so the shape never depends on the execution mode.
 */
function fencingTokenOf(claims: readonly Claim[], fences: readonly number[]): number | Record<string, number> | undefined {
  const declared = claims.flatMap((claim, index) => {
    const key = declaredKey(claim.key);
    return key === undefined ? [] : [[key, fences[index]!] as const];
  });
  if (declared.length === 0) return undefined;
  if (declared.length === 1) return declared[0]![1];
  return Object.fromEntries(declared);
}

/**
 * Parks the job as delayed, freeing its slot. Whoever frees the resource promotes it; the
 * re-check after parking catches a release that happened while it was on its way. It never
 * sleeps past the end of its wait (`waitEnds`), so a call at its deadline answers there.
 */
async function park(deps: LockingDeps, call: LockedCall, ready: () => Promise<boolean>, waitEnds: number, wakeInMs?: number): Promise<never> {
  const now = Date.now();
  // Waiting out its own old holder's lease: nobody will wake it, so it sets its own alarm.
  const alarm = wakeInMs === undefined ? deps.parkMs : Math.min(deps.parkMs, wakeInMs + 10);
  const delay = Math.max(1, Math.min(alarm, waitEnds - now));
  await call.onPark?.();
  await call.job.moveToDelayed(now + delay, call.token);
  await wakeIfDue(call.job, [ready, call.takenBack]);
  throw new DelayedError();
}
