import type { Redis } from 'ioredis';

/** One entry of a task's event stream, as a reader sees it. */
export interface TaskEventEntry {
  /** The stream id: the SSE `id:`, and what `Last-Event-ID` resumes after. */
  id: string;
  event: string;
  /** The event's JSON, as appended. */
  data: string;
}

/** A stream id as Redis makes them; anything else in `Last-Event-ID` is refused. */
export const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

const BATCH = 500;

/**
 * Reads a task's events after `after` (exclusive; the start when undefined), then waits for new
 * ones, until `signal` aborts or `stopWhenIdle()` says so after a wait that brought nothing.
 * `redis` must be a connection of its own, without a command timeout: a blocking XREAD holds
 * the connection (every other command on it would queue behind), and it waits at most
 * `blockMs` per read so that an idle reader still looks at `stopWhenIdle`.
 */
export async function* readTaskEvents(options: {
  redis: Redis;
  key: string;
  after?: string | undefined;
  blockMs: number;
  signal: AbortSignal;
  stopWhenIdle?: () => boolean;
}): AsyncGenerator<TaskEventEntry> {
  const { redis, key, blockMs, signal } = options;
  let last = options.after ?? '0-0';
  while (!signal.aborted) {
    const reply = (await redis.xread('COUNT', BATCH, 'BLOCK', blockMs, 'STREAMS', key, last)) as Array<[string, Array<[string, string[]]>]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) {
      if (options.stopWhenIdle?.()) return;
      continue;
    }
    for (const [id, fields] of entries) {
      last = id;
      yield { id, event: fieldOf(fields, 'event'), data: fieldOf(fields, 'data') };
    }
  }
}

/**
 * The events after `after` (exclusive) that are in the stream now, without waiting: what a
 * reader that stopped its blocking read still has to take.
 */
export async function eventsAfter(redis: Redis, key: string, after: string): Promise<TaskEventEntry[]> {
  const entries = (await redis.xrange(key, `(${after}`, '+')) as Array<[string, string[]]>;
  return entries.map(([id, fields]) => ({ id, event: fieldOf(fields, 'event'), data: fieldOf(fields, 'data') }));
}

/** The id of a task's last event so far ('0-0' when it has none): a waiter reads what comes after. */
export async function lastEventId(redis: Redis, key: string): Promise<string> {
  const [entry] = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  return entry?.[0] ?? '0-0';
}

function fieldOf(fields: readonly string[], name: string): string {
  for (let index = 0; index + 1 < fields.length; index += 2) if (fields[index] === name) return fields[index + 1]!;
  return '';
}
