import { oneAtATime, type Gauge, type Metrics } from '@volley/shared';
import type { Queue } from 'bullmq';
import { POOL_JOB_STATES, readPoolStates, type PoolStateDeps } from './pool-state.ts';
import { jobCountsOverShards } from './shard-job-counts.ts';

/** States of the turn queue: task steps and fan-ins; `waiting-children` are turns whose tools run. */
const TURN_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * Queue depths and the autoscaling signal, read from Redis at each scrape. They describe the
 * whole deployment, not this process: every orchestrator exports the same values (aggregate
 * with `max by (pool)`, not `sum`).
 */
export function registerQueueMetrics(metrics: Metrics, deps: PoolStateDeps & { turns: Queue[] }): void {
  const poolJobs = metrics.gauge('volley_queue_jobs', "Jobs in a pool's queue by state (waiting, active, delayed, prioritized).", ['pool', 'state']);
  const readyDelayed = metrics.gauge('volley_pool_ready_delayed_jobs', 'Delayed jobs of a pool that are due (part of the backlog).', ['pool']);
  const workers = metrics.gauge('volley_pool_workers', 'Live tool workers serving a pool.', ['pool']);
  const slots = metrics.gauge('volley_pool_slots', "Worker slots of a pool: the sum of its live workers' concurrency.", ['pool']);
  const backlog = metrics.gauge('volley_pool_backlog', 'Tool calls that want a slot of a pool now: waiting + prioritized + ready delayed + active.', ['pool']);
  const deficit = metrics.gauge(
    'volley_pool_slot_deficit',
    'Backlog minus slots of a pool, not floored: above 0 calls wait for a slot, below 0 slots idle. The autoscaling signal.',
    ['pool'],
  );
  const turnJobs = metrics.gauge(
    'volley_turn_queue_jobs',
    'Jobs of the turn queue by state: task steps and fan-ins (waiting_children: turns whose tool calls run).',
    ['state'],
  );

  metrics.collectOnScrape(
    'pools',
    oneAtATime(async () => {
      clear(poolJobs, readyDelayed, workers, slots, backlog, deficit);
      for (const state of await readPoolStates(deps)) {
        const pool = { pool: state.pool };
        for (const jobState of POOL_JOB_STATES) poolJobs.set({ ...pool, state: jobState }, state.jobs[jobState]);
        readyDelayed.set(pool, state.readyDelayed);
        workers.set(pool, state.workers);
        slots.set(pool, state.signal.slots);
        backlog.set(pool, state.signal.backlog);
        deficit.set(pool, state.signal.deficit);
      }
    }),
  );

  metrics.collectOnScrape(
    'turns',
    oneAtATime(async () => {
      clear(turnJobs);
      const counts = await jobCountsOverShards(deps.turns, TURN_JOB_STATES);
      for (const state of TURN_JOB_STATES) turnJobs.set({ state: state.replace('-', '_') }, counts[state]);
    }),
  );
}

/**
 * Cleared before each reading: a reading that fails or is late leaves no stale value for an
 * autoscaler to act on, and a forgotten pool's series disappear.
 */
function clear(...gauges: Gauge<string>[]): void {
  for (const gauge of gauges) gauge.reset();
}
