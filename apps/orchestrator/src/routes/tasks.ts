import { Approvals } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import { withPendingApprovals } from '../approvals/pending-approvals.ts';
import { z } from 'zod';
import { cancelTask, type CancelTaskDeps } from '../tasks/cancel-task.ts';
import { REPLAYED_HEADER } from '../idempotency/idempotency-key.ts';
import { submitTask } from '../idempotency/submit-task.ts';
import type { CreateTaskDeps } from '../tasks/create-task.ts';
import { withLiveCallStatus } from '../tasks/live-call-status.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';

const taskParamsSchema = z.object({ id: z.string().min(1).max(200) });

export function registerTaskRoutes(app: FastifyInstance, deps: CreateTaskDeps & CancelTaskDeps): void {
  const approvals = new Approvals({ redis: deps.redis, prefix: deps.fanOut.prefix });
  app.post('/v1/tasks', async (request, reply) => {
    const { task, replayed } = await submitTask(deps, request);
    if (replayed) void reply.header(REPLAYED_HEADER, 'true');
    return reply.status(202).send({ id: task.id, status: task.status });
  });

  app.get('/v1/tasks/:id', async (request) => {
    const { id } = taskParamsSchema.parse(request.params);
    const task = await loadTaskFor(deps.store, request.caller.tenant, id);
    return withPendingApprovals(await withLiveCallStatus(task, deps.fanOut), approvals);
  });

  app.post('/v1/tasks/:id/cancel', async (request) => {
    const { id } = taskParamsSchema.parse(request.params);
    const task = await loadTaskFor(deps.store, request.caller.tenant, id);
    const cancelled = await cancelTask(deps, task);
    return { id: cancelled.id, status: cancelled.status };
  });
}
