import type { JobType, Queue } from 'bullmq';

/** Jobs by state over one queue's copies in every shard: what the deployment holds, as one number per state. */
export async function jobCountsOverShards<State extends JobType>(queues: readonly Queue[], states: readonly State[]): Promise<Record<State, number>> {
  const counts = await Promise.all(queues.map((queue) => queue.getJobCounts(...states)));
  return Object.fromEntries(states.map((state) => [state, counts.reduce((sum, ofShard) => sum + (ofShard[state] ?? 0), 0)])) as Record<State, number>;
}
