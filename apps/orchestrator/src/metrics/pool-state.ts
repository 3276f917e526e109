import { forgetPool, listKnownPools, listLiveWorkers } from '@volley/shared';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { poolSignal, type PoolSignal } from './pool-signal.ts';
import { jobCountsOverShards } from './shard-job-counts.ts';

/** The job states of a pool's queue that metrics report. */
export const POOL_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const;
export type PoolJobState = (typeof POOL_JOB_STATES)[number];

export interface PoolState {
  pool: string;
  jobs: Record<PoolJobState, number>;
  /** Of `jobs.delayed`, those already due. */
  readyDelayed: number;
  /** Live workers serving the pool. */
  workers: number;
  signal: PoolSignal;
}

export interface PoolStateDeps {
  redis: Redis;
  /** The home key space, where the worker registry is. */
  prefix: string;
  /** The BullMQ queues of a pool, one per shard (cached by the caller). */
  queuesOf(pool: string): Queue[];
}

/**
 * Reads every pool a worker serves or served: its queue's counts, its due delayed jobs and its
 * live workers' slots. A pool with no live worker is still read while its queue holds jobs (its
 * workers died: that backlog is what an operator must see); once it has neither, it is forgotten.
 */
export async function readPoolStates(deps: PoolStateDeps, now = Date.now()): Promise<PoolState[]> {
  const [live, known] = await Promise.all([listLiveWorkers(deps.redis, deps.prefix), listKnownPools(deps.redis, deps.prefix)]);
  const capacity = new Map<string, { workers: number; slots: number }>();
  for (const worker of live) {
    const pool = capacity.get(worker.pool) ?? { workers: 0, slots: 0 };
    pool.workers += 1;
    pool.slots += worker.concurrency;
    capacity.set(worker.pool, pool);
  }
  const pools = [...new Set([...capacity.keys(), ...known])].sort();
  const states = await Promise.all(
    pools.map(async (pool): Promise<PoolState> => {
      const queues = deps.queuesOf(pool);
      const [jobs, delayedDue] = await Promise.all([
        jobCountsOverShards(queues, POOL_JOB_STATES),
        Promise.all(queues.map((queue) => deps.redis.zcount(queue.keys.delayed!, '-inf', readyDelayedMaxScore(now)))),
      ]);
      const readyDelayed = delayedDue.reduce((sum, due) => sum + due, 0);
      const { workers, slots } = capacity.get(pool) ?? { workers: 0, slots: 0 };
      return { pool, jobs, readyDelayed, workers, signal: poolSignal({ ...jobs, readyDelayed }, slots) };
    }),
  );
  const gone = states.filter((state) => state.workers === 0 && POOL_JOB_STATES.every((s) => state.jobs[s] === 0));
  await Promise.all(gone.map((state) => forgetPool(deps.redis, deps.prefix, state.pool)));
  return states.filter((state) => !gone.includes(state));
}

/**
 * BullMQ (6) scores a delayed job `due × 0x1000 + n` (due in epoch ms, n < 4096 keeps FIFO within
 * one ms; see its `getDelayedScore.lua`), and promotes those up to `(now + 1) × 0x1000 − 1`
 * (`promoteDelayedJobs.lua`): the same bound counts the due ones with one ZCOUNT.
 */
export function readyDelayedMaxScore(now: number): number {
  return (now + 1) * 0x1000 - 1;
}
