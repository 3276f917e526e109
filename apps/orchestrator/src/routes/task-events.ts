import { taskIdParamsSchema } from '@volley/api-schemas';
import { taskEventsKey, VolleyError } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { withBlockingRedis, type EventStreamDeps } from '../events/event-streams.ts';
import { readTaskEvents, STREAM_ID, type TaskEventEntry } from '../events/read-events.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import { TERMINAL_STATUSES } from '../tasks/task-record.ts';
import type { TaskStore } from '../tasks/task-store.ts';

/**
 * `GET /v1/tasks/:id/events`: the task's events as Server-Sent Events, from the start or after
 * `Last-Event-ID`, live until `task.finished` (then the stream ends). Each event's `id:` is its
 * Redis stream id; a comment line every `heartbeatMs` keeps proxies from closing a quiet stream.
 */
export function registerTaskEventRoutes(app: FastifyInstance, deps: EventStreamDeps & { store: TaskStore }): void {
  const open = new Set<AbortController>();
  // Streams end when the app closes: otherwise the server would wait for every one to end by itself.
  app.addHook('preClose', async () => {
    for (const stream of open) stream.abort();
  });

  app.get('/v1/tasks/:id/events', async (request, reply) => {
    const { id } = taskIdParamsSchema.parse(request.params);
    const after = request.headers['last-event-id'];
    if (after !== undefined && (typeof after !== 'string' || !STREAM_ID.test(after))) {
      throw new VolleyError('invalid_request', 'Last-Event-ID must be the id of an event of this stream (digits-digits)');
    }
    const task = await loadTaskFor(deps.store, request.caller.tenant, id);
    // An ended task whose stream lacks task.finished (its events expired, or predate them) still ends.
    const endedAtStart = TERMINAL_STATUSES.has(task.status);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(': stream of task events\n\n');
    const stream = new AbortController();
    open.add(stream);
    raw.on('close', () => stream.abort());
    const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), deps.heartbeatMs);
    try {
      await withBlockingRedis(deps, stream.signal, async (redis) => {
        const events = readTaskEvents({
          redis,
          key: taskEventsKey(deps.prefix, id),
          after,
          blockMs: deps.blockMs ?? 5_000,
          signal: stream.signal,
          stopWhenIdle: () => endedAtStart,
        });
        for await (const event of events) {
          await write(raw, sseOf(event));
          if (event.event === 'task.finished') return;
        }
      });
    } catch (error) {
      if (!stream.signal.aborted) request.log.warn({ err: error, taskId: id }, 'task event stream failed');
    } finally {
      clearInterval(heartbeat);
      open.delete(stream);
      raw.end();
    }
  });
}

function sseOf(event: TaskEventEntry): string {
  return `id: ${event.id}\nevent: ${event.event}\ndata: ${event.data}\n\n`;
}

/** Writes with backpressure: a slow client holds the reader back instead of growing a buffer. */
function write(raw: ServerResponse, text: string): Promise<void> {
  if (raw.destroyed) return Promise.resolve();
  if (raw.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
  });
}
