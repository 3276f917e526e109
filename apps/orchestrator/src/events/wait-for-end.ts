import { taskEventsKey } from '@volley/shared';
import type { Redis } from 'ioredis';
import { TERMINAL_STATUSES, type TaskRecord } from '../tasks/task-record.ts';
import { withBlockingRedis, type EventStreamDeps } from './event-streams.ts';
import { lastEventId, readTaskEvents } from './read-events.ts';

export { MAX_WAIT_MS } from '@volley/api-schemas';

/**
 * Waits until the task ends or `waitMs` pass, by reading its event stream for `task.finished`
 * (no polling), then answers the task as `load` reads it. The stream's last id is taken before
 * the task is loaded, so an end between the two is seen either way.
 */
export async function waitForTaskEnd(
  deps: EventStreamDeps & { redis: Redis },
  taskId: string,
  waitMs: number,
  load: () => Promise<TaskRecord>,
  signal: AbortSignal,
): Promise<TaskRecord> {
  const key = taskEventsKey(deps.spaces.of(taskId), taskId);
  const after = await lastEventId(deps.redis, key);
  const task = await load();
  if (TERMINAL_STATUSES.has(task.status) || waitMs <= 0) return task;
  const deadline = Date.now() + waitMs;
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), waitMs);
  const stop = AbortSignal.any([signal, timer.signal]);
  try {
    await withBlockingRedis(deps, stop, async (redis) => {
      const events = readTaskEvents({
        redis,
        key,
        after,
        blockMs: Math.max(1, Math.min(deps.blockMs ?? 5_000, waitMs)),
        signal: stop,
        stopWhenIdle: () => Date.now() >= deadline,
      });
      for await (const event of events) if (event.event === 'task.finished') return;
    }).catch((error: unknown) => {
      // Dropping the connection at the deadline (or on disconnect) fails its read: that is the end of the wait.
      if (!stop.aborted) throw error;
    });
  } finally {
    clearTimeout(timeout);
  }
  return load();
}
