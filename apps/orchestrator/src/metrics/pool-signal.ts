/** One pool's queue, as read at one instant. */
export interface PoolCounts {
  waiting: number;
  prioritized: number;
  /** Delayed jobs whose time has come (a retry's backoff ran out, a parked call's alarm rang). */
  readyDelayed: number;
  active: number;
}

export interface PoolSignal {
  /** Calls that want a worker slot now: waiting + prioritized + ready delayed + active. */
  backlog: number;
  /** Worker slots the pool has: the sum of its live workers' concurrency. */
  slots: number;
  /**
   * backlog − slots, not floored: above 0, calls wait for a slot (add workers); below 0, slots
   * idle (the pool may shrink). Desired workers = current + deficit / concurrency = backlog / concurrency.
   */
  deficit: number;
}

/**
 * The autoscaling signal of a pool. Delayed jobs that are not due — calls parked until a
 * resource lock frees, retries still backing off — are left out: more workers would not run
 * them sooner.
 */
export function poolSignal(counts: PoolCounts, slots: number): PoolSignal {
  const backlog = counts.waiting + counts.prioritized + counts.readyDelayed + counts.active;
  return { backlog, slots, deficit: backlog - slots };
}
