import { approvalsAnswerSchema, taskIdParamsSchema } from '@volley/api-schemas';
import { Approvals, type Logger } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { approvalsBodySchema, decideApprovals } from '../approvals/decide-approvals.ts';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { errorResponses } from '../http/error-responses.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { APPROVALS_ANSWER_EXAMPLE, APPROVALS_EXAMPLE } from './examples.ts';

export interface ApprovalRouteDeps {
  store: TaskStore;
  fanOut: FanOutQueue;
  redis: Redis;
  logger: Logger;
  limits: { maxArgumentBytes: number };
}

export function registerApprovalRoutes(app: FastifyInstance, deps: ApprovalRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const approvals = new Approvals({ redis: deps.redis, spaces: deps.fanOut.spaces });
  api.post(
    '/v1/tasks/:id/approvals',
    {
      // Another tenant's task is 404 whatever the body says, so ids cannot be probed: a body that
      // fails its schema is refused only once the task is known to be the caller's.
      attachValidation: true,
      schema: {
        tags: ['approvals'],
        operationId: 'decideApprovals',
        summary: 'Decide calls waiting for approval',
        description:
          "Decides calls listed in the task's `pending_approvals`, all of them or none. An approved call runs (with the edited `arguments`, " +
          "a JSON object's text, if given); a denied one becomes the error tool message `denied` with the reason.",
        params: taskIdParamsSchema,
        body: approvalsBodySchema.meta({ examples: [APPROVALS_EXAMPLE] }),
        response: {
          200: approvalsAnswerSchema.describe('Decided').meta({ examples: [APPROVALS_ANSWER_EXAMPLE] }),
          ...errorResponses({ 400: ['unknown_tool_call'], 404: ['not_found'], 409: ['already_decided', 'task_ended'] }, { body: true }),
        },
      },
    },
    async (request) => {
      const invalid = request.validationError;
      if (invalid && invalid.validationContext !== 'body') throw invalid;
      const task = await loadTaskFor(deps.store, request.caller.tenant, request.params.id);
      if (invalid) throw invalid;
      return decideApprovals(
        { approvals, redis: deps.redis, fanOut: deps.fanOut, logger: deps.logger, maxArgumentBytes: deps.limits.maxArgumentBytes },
        task,
        request.body,
      );
    },
  );
}
