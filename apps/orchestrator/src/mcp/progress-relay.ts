import type { ProgressToken } from '@modelcontextprotocol/sdk/types.js';
import { taskEventsKey, type Logger } from '@volley/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { withBlockingRedis, type EventStreamDeps } from '../events/event-streams.ts';
import { eventsAfter, readTaskEvents, type TaskEventEntry } from '../events/read-events.ts';
import { toProgressParams, type ProgressParams } from './progress-notification.ts';

const progressEventSchema = z.looseObject({ value: z.unknown() });

export interface ProgressRelayDeps {
  eventStreams: EventStreamDeps;
  /** Request handling's connection: the last read and the stream's deletion. */
  redis: Redis;
  logger: Logger;
}

export interface ProgressRelay {
  /**
   * Forwards what is still in the stream, then deletes it. Called once the fan-out answered: a
   * call's last report is appended before it finishes, so the blocking read may not have
   * brought it yet, and the host must see it before the result.
   */
  finish(): Promise<void>;
}

/**
 * Relays a fan-out's `tool_call.progress` events to an MCP request as progress notifications
 * while it runs. The worker running the call appends them to the fan-out's event stream, so the
 * request gets them whichever orchestrator it reached; the stream is read as the SSE route reads
 * a task's, on a blocking connection of its own.
 */
export function relayProgress(
  deps: ProgressRelayDeps,
  fanOutId: string,
  progressToken: ProgressToken,
  send: (params: ProgressParams) => Promise<void>,
): ProgressRelay {
  const key = taskEventsKey(deps.eventStreams.spaces.of(fanOutId), fanOutId);
  const reading = new AbortController();
  let last = '0-0';
  let progress = 0;
  const forward = async (entry: TaskEventEntry) => {
    last = entry.id;
    if (entry.event !== 'tool_call.progress') return;
    const event = progressEventSchema.safeParse(parseJson(entry.data));
    if (!event.success) return;
    const params = toProgressParams(progressToken, event.data.value, progress);
    progress = params.progress;
    // A host that went away cannot be told; its call is being cancelled meanwhile.
    await send(params).catch((error: unknown) => deps.logger.debug({ err: error, fanOut: fanOutId }, 'progress not sent'));
  };
  const blockMs = deps.eventStreams.blockMs ?? 5_000;
  const relayed = withBlockingRedis(deps.eventStreams, reading.signal, async (redis) => {
    for await (const entry of readTaskEvents({ redis, key, blockMs, signal: reading.signal })) await forward(entry);
  }).catch((error: unknown) => {
    // Dropping the connection fails its read: that is how the relay stops.
    if (!reading.signal.aborted) deps.logger.warn({ err: error, fanOut: fanOutId }, 'progress relay stopped early');
  });
  return {
    async finish() {
      reading.abort();
      await relayed;
      for (const entry of await eventsAfter(deps.redis, key, last)) await forward(entry);
      await deps.redis.del(key);
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
