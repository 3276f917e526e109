import { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { markFanOutEnded } from './end-fan-out.ts';
import { fanInJobDataSchema } from './fan-in-slot-schema.ts';
import type { FanOutQueue } from './fan-out-queue.ts';
import { withdrawCalls } from './withdraw-calls.ts';

/**
 * Cancels a bare fan-out by its id, from any orchestrator, whichever one waits for it. The ended
 * mark goes first, so a call not picked up yet (or not even enqueued yet: a cancel may overtake
 * its call) never runs; then the calls named in its fan-in job are withdrawn as at a deadline.
 * The fan-in then gathers them as `cancelled`, and the request waiting for it answers. A fan-out
 * already gathered is gone from the queue: nothing is left to withdraw.
 */
export async function cancelFanOut(deps: { fanOut: FanOutQueue; redis: Redis }, id: string): Promise<void> {
  await markFanOutEnded({ redis: deps.redis, spaces: deps.fanOut.spaces }, id, {
    status: 'cancelled',
    error: { code: 'cancelled', message: 'the fan-out was cancelled' },
  });
  const parent = await Job.fromId(deps.fanOut.turnsOf(id), id);
  const data = fanInJobDataSchema.safeParse(parent?.data);
  if (!data.success) return;
  await withdrawCalls(
    deps,
    id,
    data.data.slots.flatMap((slot) => ('job_id' in slot ? [{ pool: slot.pool, jobId: slot.job_id }] : [])),
  );
}
