import { taskIdParamsSchema } from '@volley/api-schemas';
import { taskEventsKey } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sseResponses } from '../http/sse-response.ts';
import { withBlockingRedis, type EventStreamDeps } from '../events/event-streams.ts';
import { readTaskEvents, STREAM_ID, type TaskEventEntry } from '../events/read-events.ts';
import { errorResponses } from '../http/error-responses.ts';
import { contentResponse } from '../http/page-responses.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import { TERMINAL_STATUSES } from '../tasks/task-record.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { TASK_EVENTS_EXAMPLE } from './examples.ts';

const headersSchema = z.looseObject({
  'last-event-id': z
    .string()
    .regex(STREAM_ID, 'must be the id of an event of this stream (digits-digits)')
    .optional()
    .describe('Resume right after this event (as `EventSource` sends it when it reconnects); without it the stream replays from the first event.'),
});

/**
 * `GET /v1/tasks/:id/events`: the task's events as Server-Sent Events, from the start or after
 * `Last-Event-ID`, live until `task.finished` (then the stream ends). Each event's `id:` is its
 * Redis stream id; a comment line every `heartbeatMs` keeps proxies from closing a quiet stream.
 */
export function registerTaskEventRoutes(app: FastifyInstance, deps: EventStreamDeps & { store: TaskStore }): void {
  const openSse = sseResponses(app);
  const schema = {
    tags: ['tasks'],
    operationId: 'streamTaskEvents',
    summary: "The task's events, as Server-Sent Events",
    description:
      "Each event's `id:` is its id in the task's Redis stream; every `data:` is JSON with `task_id`, `turn` and `at`. Live while the task runs, " +
      'ends after `task.finished`; a `: heartbeat` comment keeps proxies from closing a quiet stream.',
    params: taskIdParamsSchema,
    headers: headersSchema,
    response: {
      200: contentResponse('text/event-stream', 'The event stream', z.string().meta({ examples: [TASK_EVENTS_EXAMPLE] })),
      ...errorResponses({ 400: ['invalid_request'], 404: ['not_found'] }),
    },
  };

  app.withTypeProvider<ZodTypeProvider>().get('/v1/tasks/:id/events', { schema }, async (request, reply) => {
    const { id } = request.params;
    const after = request.headers['last-event-id'];
    const task = await loadTaskFor(deps.store, request.caller.tenant, id);
    // An ended task whose stream lacks task.finished (its events expired, or predate them) still ends.
    const endedAtStart = TERMINAL_STATUSES.has(task.status);

    const sse = openSse(reply, { heartbeatMs: deps.heartbeatMs });
    await sse.send(': stream of task events\n\n');
    try {
      await withBlockingRedis(deps, sse.signal, async (redis) => {
        const events = readTaskEvents({
          redis,
          key: taskEventsKey(deps.spaces.of(id), id),
          after,
          blockMs: deps.blockMs ?? 5_000,
          signal: sse.signal,
          stopWhenIdle: () => endedAtStart,
        });
        for await (const event of events) {
          await sse.send(sseOf(event));
          if (event.event === 'task.finished') return;
        }
      });
    } catch (error) {
      if (!sse.signal.aborted) request.log.warn({ err: error, taskId: id }, 'task event stream failed');
    } finally {
      sse.end();
    }
  });
}

function sseOf(event: TaskEventEntry): string {
  return `id: ${event.id}\nevent: ${event.event}\ndata: ${event.data}\n\n`;
}
