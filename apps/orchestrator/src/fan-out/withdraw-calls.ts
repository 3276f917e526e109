import { cancelChannel } from '@volley/shared';
import { Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FanOutQueue } from './fan-out-queue.ts';

/** A call that went to a pool's queue. */
export interface QueuedJob {
  pool: string;
  jobId: string;
}

/**
 * Takes back calls whose task or fan-out has ended (its ended mark is set first, so a call
 * picked up from here on is answered without running): running ones are told on the cancel
 * channel (their AbortSignal fires), those still waiting are removed (a removed child no longer
 * holds up its fan-in), and those parked for a lock are woken so they leave their lines at once.
 * A waiting call that takes locks is left to be picked up instead: it may already stand in lines
 * (a redelivered call waits like any other), and only a worker knows its claims to leave them;
 * at pick-up it sees the mark and leaves at once.
 */
export async function withdrawCalls(
  deps: { fanOut: FanOutQueue; redis: Redis },
  /** The task or bare fan-out the calls belong to. */
  owner: string,
  calls: readonly QueuedJob[],
  /**
   * Left on the queue, a waiting call is answered `cancelled` by the worker that picks it up: a
   * running bare fan-out's request waits for an answer from each of its calls.
   */
  options: { removeWaiting: boolean } = { removeWaiting: true },
): Promise<void> {
  if (calls.length === 0) return;
  await deps.redis.publish(cancelChannel(deps.fanOut.spaces.home), JSON.stringify({ jobs: calls.map((call) => call.jobId) }));
  await Promise.all(calls.map((call) => settle(deps.fanOut.toolQueue(call.pool, owner), call, options.removeWaiting)));
}

async function settle(queue: Queue, call: QueuedJob, removeWaiting: boolean): Promise<void> {
  const job = await Job.fromId(queue, call.jobId);
  if (!job) return;
  const state = await job.getState();
  if (removeWaiting && (state === 'waiting' || state === 'prioritized') && !isLocking(job.data)) await job.remove().catch(() => undefined);
  else if (state === 'delayed') await job.promote().catch(() => undefined);
}

/** Job data is only looked at, not trusted: a call whose data names a lock plan stands in lines. */
function isLocking(data: unknown): boolean {
  return typeof data === 'object' && data !== null && 'lock' in data && data.lock !== undefined;
}
