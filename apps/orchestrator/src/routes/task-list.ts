import { taskIdParamsSchema, type DeletedTask } from '@volley/api-schemas';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { deleteTask } from '../tasks/delete-task.ts';
import { listTasks, parseListTasksQuery } from '../tasks/list-tasks.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { TaskIndex } from '../tasks/task-index.ts';
import type { TaskStore } from '../tasks/task-store.ts';

/** `GET /v1/tasks` (the caller's tenant's tasks, newest first) and `DELETE /v1/tasks/:id`. */
export function registerTaskListRoutes(app: FastifyInstance, deps: { store: TaskStore; index: TaskIndex; fanOut: FanOutQueue; redis: Redis }): void {
  app.get('/v1/tasks', async (request) => listTasks(deps, request.caller.tenant, parseListTasksQuery(request.query as Record<string, unknown>)));

  app.delete('/v1/tasks/:id', async (request): Promise<DeletedTask> => {
    const { id } = taskIdParamsSchema.parse(request.params);
    const task = await loadTaskFor(deps.store, request.caller.tenant, id);
    await deleteTask(deps, task);
    return { id: task.id, deleted: true };
  });
}
