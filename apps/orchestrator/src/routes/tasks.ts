import { getTaskQuerySchema, taskAckSchema, taskIdParamsSchema, taskSchema } from '@volley/api-schemas';
import { Approvals } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { abortOnClose } from '../http/abort-on-close.ts';
import { withPendingApprovals } from '../approvals/pending-approvals.ts';
import { errorResponses } from '../http/error-responses.ts';
import { cancelTask, type CancelTaskDeps } from '../tasks/cancel-task.ts';
import { idempotencyHeadersSchema, REPLAYED_HEADER, takeIdempotencyKeys } from '../idempotency/idempotency-key.ts';
import { submitTask } from '../idempotency/submit-task.ts';
import { createTaskBodySchema, type CreateTaskDeps } from '../tasks/create-task.ts';
import { withLiveCallStatus } from '../tasks/live-call-status.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { EventStreamDeps } from '../events/event-streams.ts';
import { waitForTaskEnd } from '../events/wait-for-end.ts';
import { CREATE_TASK_EXAMPLE, TASK_ACCEPTED_EXAMPLE, TASK_EXAMPLE } from './examples.ts';

/** A task as a read shows it: the record, with the calls of the turn in flight live from the queue and the approvals they wait for. */
export const taskAnswerSchema = taskSchema.meta({ examples: [TASK_EXAMPLE] });

export function registerTaskRoutes(app: FastifyInstance, deps: CreateTaskDeps & CancelTaskDeps & { eventStreams: EventStreamDeps }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const approvals = new Approvals({ redis: deps.redis, spaces: deps.fanOut.spaces });

  api.post(
    '/v1/tasks',
    {
      preValidation: takeIdempotencyKeys(app),
      schema: {
        tags: ['tasks'],
        operationId: 'createTask',
        summary: 'Run an agent task',
        description:
          'Records the task and queues its first step; answers at once. With an `Idempotency-Key`, a retry gets the task the first request made ' +
          "(its answer carries `idempotent-replayed: true`). Past the tenant's `VOLLEY_TASK_RATE_LIMIT`, 429 with `retry-after`.",
        headers: idempotencyHeadersSchema,
        body: createTaskBodySchema.meta({ examples: [CREATE_TASK_EXAMPLE] }),
        response: {
          202: taskAckSchema.describe('Accepted: the task is queued').meta({ examples: [TASK_ACCEPTED_EXAMPLE] }),
          ...errorResponses(
            { 400: ['unknown_tool', 'invalid_idempotency_key'], 409: ['idempotency_key_in_use'], 422: ['idempotency_key_reused'], 429: ['rate_limited'] },
            { body: true },
          ),
        },
      },
    },
    async (request, reply) => {
      const { task, replayed } = await submitTask(deps, request.body, request);
      if (replayed) void reply.header(REPLAYED_HEADER, 'true');
      return reply.status(202).send({ id: task.id, status: task.status });
    },
  );

  api.get(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'getTask',
        summary: 'A task: its transcript, turns, calls and usage',
        description: "Another tenant's task is a 404. While a turn is in flight its calls show live, read from the queue.",
        params: taskIdParamsSchema,
        querystring: getTaskQuerySchema,
        response: { 200: taskAnswerSchema.describe('The task'), ...errorResponses({ 400: ['invalid_request'], 404: ['not_found'] }) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { wait_ms } = request.query;
      const load = () => loadTaskFor(deps.store, request.caller.tenant, id);
      const task = wait_ms ? await waitForTaskEnd({ ...deps.eventStreams, redis: deps.redis }, id, wait_ms, load, abortOnClose(reply.raw)) : await load();
      return withPendingApprovals(await withLiveCallStatus(task, deps.fanOut), approvals);
    },
  );

  api.post(
    '/v1/tasks/:id/cancel',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'cancelTask',
        summary: 'Cancel a task',
        description:
          'Ends the task `cancelled`: waiting calls are removed, running ones see their `AbortSignal` fire. Cancelling a finished task changes nothing.',
        params: taskIdParamsSchema,
        response: {
          200: taskAckSchema.describe('The task as it is now').meta({ examples: [{ id: TASK_ACCEPTED_EXAMPLE.id, status: 'cancelled' }] }),
          ...errorResponses({ 404: ['not_found'] }, { body: true }),
        },
      },
    },
    async (request) => {
      const task = await loadTaskFor(deps.store, request.caller.tenant, request.params.id);
      const cancelled = await cancelTask(deps, task);
      return { id: cancelled.id, status: cancelled.status };
    },
  );
}
