import { deletedTaskSchema, taskIdParamsSchema, taskListSchema } from '@volley/api-schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { errorResponses } from '../http/error-responses.ts';
import { deleteTask } from '../tasks/delete-task.ts';
import { listTasks, listTasksQuerySchema } from '../tasks/list-tasks.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { TaskIndex } from '../tasks/task-index.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { TASK_ACCEPTED_EXAMPLE, TASK_LIST_EXAMPLE } from './examples.ts';

/** `GET /v1/tasks` (the caller's tenant's tasks, newest first) and `DELETE /v1/tasks/:id`. */
export function registerTaskListRoutes(app: FastifyInstance, deps: { store: TaskStore; index: TaskIndex; fanOut: FanOutQueue; redis: Redis }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'listTasks',
        summary: "The tenant's tasks, newest first",
        description:
          'Summaries (the record without transcript and turns). Filters: `status`, and any number of `metadata.<key>=<value>` (all must match). ' +
          'An unknown parameter, one given twice, or a cursor this API did not give out is a 400.',
        querystring: listTasksQuerySchema,
        response: { 200: taskListSchema.describe('A page of tasks').meta({ examples: [TASK_LIST_EXAMPLE] }), ...errorResponses({ 400: ['invalid_request'] }) },
      },
    },
    async (request) => listTasks(deps, request.caller.tenant, request.query),
  );

  api.delete(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'deleteTask',
        summary: 'Delete a finished task',
        description:
          "Its record, events, listing entry and its calls' lock plans and results. A task still going is a 409 `task_not_finished` (cancel it first).",
        params: taskIdParamsSchema,
        response: {
          200: deletedTaskSchema.describe('Deleted').meta({ examples: [{ id: TASK_ACCEPTED_EXAMPLE.id, deleted: true }] }),
          ...errorResponses({ 404: ['not_found'], 409: ['task_not_finished'] }, { body: true }),
        },
      },
    },
    async (request) => {
      const task = await loadTaskFor(deps.store, request.caller.tenant, request.params.id);
      await deleteTask(deps, task);
      return { id: task.id, deleted: true as const };
    },
  );
}
