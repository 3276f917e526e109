import { taskEventsKey, type Logger } from '@volley/shared';
import type { Redis } from 'ioredis';
import { withBlockingRedis, type EventStreamDeps } from './event-streams.ts';
import { eventsAfter, readTaskEvents, type TaskEventEntry } from './read-events.ts';

export interface FanOutEventsDeps {
  eventStreams: EventStreamDeps;
  /** Request handling's connection: the last read and the stream's deletion. */
  redis: Redis;
  logger: Logger;
}

export interface FanOutEventsFollower {
  /**
   * Forwards what is still in the stream, then deletes it. Called once the fan-out answered: a
   * call's last events are appended before it finishes, so the blocking read may not have
   * brought them yet, and the reader must see them before the answer.
   */
  finish(): Promise<void>;
}

/**
 * Forwards the events of a bare fan-out that runs with `events` (its calls' `tool_call.*`) to
 * the request that made it, while it runs. The workers append them to the fan-out's own event
 * stream, so the request gets them whichever orchestrator it reached; the stream is read as the
 * SSE route reads a task's, on a blocking connection of its own. Nobody else reads it: `finish`
 * deletes it (its TTL only bounds what a request that died leaves behind).
 */
export function followFanOutEvents(deps: FanOutEventsDeps, fanOutId: string, forward: (entry: TaskEventEntry) => Promise<void>): FanOutEventsFollower {
  const key = taskEventsKey(deps.eventStreams.spaces.of(fanOutId), fanOutId);
  const reading = new AbortController();
  let last = '0-0';
  const take = async (entry: TaskEventEntry) => {
    last = entry.id;
    await forward(entry);
  };
  const blockMs = deps.eventStreams.blockMs ?? 5_000;
  const followed = withBlockingRedis(deps.eventStreams, reading.signal, async (redis) => {
    for await (const entry of readTaskEvents({ redis, key, blockMs, signal: reading.signal })) await take(entry);
  }).catch((error: unknown) => {
    // Dropping the connection fails its read: that is how the reader stops.
    if (!reading.signal.aborted) deps.logger.warn({ err: error, fanOut: fanOutId }, 'fan-out events stopped early');
  });
  return {
    async finish() {
      reading.abort();
      await followed;
      for (const entry of await eventsAfter(deps.redis, key, last)) await take(entry);
      await deps.redis.del(key);
    },
  };
}
