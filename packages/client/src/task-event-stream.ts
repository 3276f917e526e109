import type { TaskEventData, TaskEventName } from '@volley/api-schemas';
import { taskPath } from './api-paths.ts';
import { eventStreamBody, taskEventDataOf, textOf } from './event-stream-body.ts';
import type { HttpTransport } from './http-transport.ts';
import { SseDecoder } from './sse-decoder.ts';
import { VolleyApiError } from './volley-api-error.ts';

/** One event of a task's stream (see README, Events). */
export interface TaskEvent {
  /** Its id in the task's stream: pass it as `lastEventId` to resume right after it. */
  id: string;
  /** One of `TASK_EVENT_NAMES`, or a name a newer server added. */
  event: TaskEventName | (string & {});
  data: TaskEventData;
}

export interface TaskEventsOptions {
  /** Start right after this event (an earlier `TaskEvent.id`) instead of the stream's first. */
  lastEventId?: string | undefined;
  /** Stops the stream: the iterator rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Reconnections in a row that may fail (no answer, a 5xx, 408 or 429, a connection that
   * brought no event) before the iterator throws the last failure.
   * @defaultValue 8
   */
  maxReconnects?: number | undefined;
  /**
   * The wait before reconnecting; it doubles with each failure in a row, up to 10 s. A `retry:`
   * the server sends replaces it.
   * @defaultValue 500
   */
  reconnectDelayMs?: number | undefined;
  /**
   * A connection that brings nothing, not even a heartbeat comment, for this long is taken as
   * dropped (a proxy or NAT may lose it without closing it) and is replaced.
   * @defaultValue 45_000, three of the server's 15 s heartbeats
   */
  idleTimeoutMs?: number | undefined;
}

const MAX_RECONNECT_DELAY_MS = 10_000;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/**
 * The task's events, live, until `task.finished`. A connection that drops is opened again with
 * `Last-Event-ID` set to the last event read, so the server resumes right after it: nothing is
 * lost and nothing repeats. Leaving the loop early (`break`, `return`) closes the connection.
 */
export async function* streamTaskEvents(transport: HttpTransport, taskId: string, options: TaskEventsOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
  const { signal } = options;
  const maxReconnects = options.maxReconnects ?? 8;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const path = `${taskPath(taskId)}/events`;
  let lastEventId = options.lastEventId || undefined;
  let failures = 0;
  let baseDelayMs = options.reconnectDelayMs ?? 500;
  let lastFailure: unknown;
  for (;;) {
    signal?.throwIfAborted();
    const connection = new AbortController();
    const stop = () => connection.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    let progressed = false;
    let endedCleanly = false;
    try {
      const response = await transport.send('GET', path, {
        headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
        signal: connection.signal,
      });
      const body = eventStreamBody(response, `GET /${path}`);
      const decoder = new SseDecoder();
      for await (const text of textOf(body, connection, idleTimeoutMs)) {
        for (const message of decoder.push(text)) {
          const event = taskEventOf(message.id ?? lastEventId ?? '', message.event, message.data, path);
          lastEventId = event.id || lastEventId;
          progressed = true;
          yield event;
          if (event.event === 'task.finished') return;
        }
        if (decoder.retryMs !== undefined) baseDelayMs = decoder.retryMs;
      }
      endedCleanly = true;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!isDrop(error)) throw error;
      lastFailure = error;
    } finally {
      signal?.removeEventListener('abort', stop);
      // Also reached when the consumer leaves the loop at a `yield`: the connection goes with it.
      connection.abort();
    }
    // The server ends a stream by itself only after `task.finished`, or for a task that ended
    // without one in its (expired) stream; or it was shutting down. The task's status tells which.
    if (endedCleanly) {
      try {
        const task = await transport.json<{ status: string }>('GET', taskPath(taskId), { signal });
        if (TERMINAL.has(task.status)) return;
      } catch (error) {
        if (signal?.aborted || !isDrop(error)) throw error;
        lastFailure = error;
      }
    }
    failures = progressed ? 0 : failures + 1;
    if (failures > maxReconnects) {
      throw lastFailure ?? new VolleyApiError(0, 'network_error', `GET /${path}: the stream kept ending without events (${failures} connections in a row)`);
    }
    await sleep(Math.min(baseDelayMs * 2 ** Math.max(0, failures - 1), MAX_RECONNECT_DELAY_MS), signal);
  }
}

function taskEventOf(id: string, event: string, data: string, path: string): TaskEvent {
  return { id, event, data: taskEventDataOf(data, `GET /${path}: event ${id}`) };
}

/**
 * Failures worth a new connection: the connection broke or went idle, no answer came, or the
 * API said "later" (5xx, 408, 429). Any other answer (401, 404, …) and a malformed stream end it.
 */
function isDrop(error: unknown): boolean {
  if (!VolleyApiError.isInstance(error)) return true;
  if (error.code === 'invalid_response') return false;
  return error.status === 0 || error.status >= 500 || error.status === 408 || error.status === 429;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
