import { getTaskQuerySchema, taskIdParamsSchema, type Task, type TaskAck } from '@volley/api-schemas';
import { Approvals } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import { abortOnClose } from '../http/abort-on-close.ts';
import { withPendingApprovals } from '../approvals/pending-approvals.ts';
import { cancelTask, type CancelTaskDeps } from '../tasks/cancel-task.ts';
import { REPLAYED_HEADER } from '../idempotency/idempotency-key.ts';
import { submitTask } from '../idempotency/submit-task.ts';
import type { CreateTaskDeps } from '../tasks/create-task.ts';
import { withLiveCallStatus } from '../tasks/live-call-status.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { EventStreamDeps } from '../events/event-streams.ts';
import { waitForTaskEnd } from '../events/wait-for-end.ts';

export function registerTaskRoutes(app: FastifyInstance, deps: CreateTaskDeps & CancelTaskDeps & { eventStreams: EventStreamDeps }): void {
  const approvals = new Approvals({ redis: deps.redis, prefix: deps.fanOut.prefix });
  app.post('/v1/tasks', async (request, reply) => {
    const { task, replayed } = await submitTask(deps, request);
    if (replayed) void reply.header(REPLAYED_HEADER, 'true');
    return reply.status(202).send({ id: task.id, status: task.status } satisfies TaskAck);
  });

  app.get('/v1/tasks/:id', async (request, reply): Promise<Task> => {
    const { id } = taskIdParamsSchema.parse(request.params);
    const { wait_ms } = getTaskQuerySchema.parse(request.query);
    const load = () => loadTaskFor(deps.store, request.caller.tenant, id);
    const task = wait_ms ? await waitForTaskEnd({ ...deps.eventStreams, redis: deps.redis }, id, wait_ms, load, abortOnClose(reply.raw)) : await load();
    return withPendingApprovals(await withLiveCallStatus(task, deps.fanOut), approvals);
  });

  app.post('/v1/tasks/:id/cancel', async (request): Promise<TaskAck> => {
    const { id } = taskIdParamsSchema.parse(request.params);
    const task = await loadTaskFor(deps.store, request.caller.tenant, id);
    const cancelled = await cancelTask(deps, task);
    return { id: cancelled.id, status: cancelled.status };
  });
}
