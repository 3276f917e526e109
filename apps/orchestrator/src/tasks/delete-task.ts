import { taskEventsKey, VolleyError } from '@volley/shared';
import type { Redis } from 'ioredis';
import type { TaskIndex } from './task-index.ts';
import { TERMINAL_STATUSES, type TaskRecord } from './task-record.ts';
import type { TaskStore } from './task-store.ts';

export interface DeleteTaskDeps {
  store: TaskStore;
  index: TaskIndex;
  redis: Redis;
  prefix: string;
}

/**
 * Deletes a finished task: its record, its ended and gathered marks, its event stream and its
 * place in the tenant's listing, in one MULTI. A task still queued or running is a 409
 * `task_not_finished` (cancel it first). Once finished nothing writes the task again (no step runs,
 * a cancel finds no record), so nothing brings its keys back.
 */
export async function deleteTask(deps: DeleteTaskDeps, task: TaskRecord): Promise<void> {
  if (!TERMINAL_STATUSES.has(task.status)) {
    throw new VolleyError('task_not_finished', `task ${task.id} is ${task.status}: only a finished task can be deleted (cancel it first)`);
  }
  const replies = await deps.redis
    .multi()
    .del(...deps.store.keysOf(task.id), taskEventsKey(deps.prefix, task.id))
    .zrem(deps.index.key(task.tenant), task.id)
    .exec();
  for (const [error] of replies ?? []) if (error) throw error;
}
