import type { Redis } from 'ioredis';
import { markFanOutEnded } from './end-fan-out.ts';
import type { FanOutQueue } from './fan-out-queue.ts';
import { withdrawCalls } from './withdraw-calls.ts';

/**
 * Cancels a bare fan-out by its id, from any orchestrator, whichever one waits for it. The ended
 * mark goes first, so a call not picked up yet (or not even enqueued yet: a cancel may overtake
 * its call) never runs; then the calls its record names are told (running ones) or woken
 * (parked ones). Each then delivers `cancelled` to the request waiting for it, which answers;
 * a waiting call stays on its queue to be answered so by the worker that picks it up. A fan-out
 * past its deadline names no calls any more: it has answered.
 */
export async function cancelFanOut(deps: { fanOut: FanOutQueue; redis: Redis }, id: string): Promise<void> {
  await markFanOutEnded({ redis: deps.redis, spaces: deps.fanOut.spaces }, id, {
    status: 'cancelled',
    error: { code: 'cancelled', message: 'the fan-out was cancelled' },
  });
  await withdrawCalls(deps, id, await deps.fanOut.queuedCalls(id), { removeWaiting: false });
}
