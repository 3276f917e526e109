import { taskIdParamsSchema } from '@volley/api-schemas';
import { Approvals, type Logger } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { approvalsBodySchema, decideApprovals } from '../approvals/decide-approvals.ts';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { TaskStore } from '../tasks/task-store.ts';

export interface ApprovalRouteDeps {
  store: TaskStore;
  fanOut: FanOutQueue;
  redis: Redis;
  logger: Logger;
  limits: { maxArgumentBytes: number };
}

export function registerApprovalRoutes(app: FastifyInstance, deps: ApprovalRouteDeps): void {
  const approvals = new Approvals({ redis: deps.redis, prefix: deps.fanOut.prefix });
  app.post('/v1/tasks/:id/approvals', async (request) => {
    const { id } = taskIdParamsSchema.parse(request.params);
    // Another tenant's task is 404 whatever the body says, so ids cannot be probed.
    const task = await loadTaskFor(deps.store, request.caller.tenant, id);
    const body = approvalsBodySchema.parse(request.body);
    return decideApprovals({ approvals, redis: deps.redis, fanOut: deps.fanOut, logger: deps.logger, maxArgumentBytes: deps.limits.maxArgumentBytes }, task, body);
  });
}
