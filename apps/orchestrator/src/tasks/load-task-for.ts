import { VolleyError } from '@volley/shared';
import type { TaskRecord } from './task-record.ts';
import type { TaskStore } from './task-store.ts';

/**
 * The task, if the caller's tenant owns it. Another tenant's task answers exactly like a
 * missing one (404 not_found), so ids cannot be probed. Every per-task route loads through
 * here. `tenant` null means auth is off: every task is visible.
 */
export async function loadTaskFor(store: TaskStore, tenant: string | null, id: string): Promise<TaskRecord> {
  const task = await store.get(id);
  if (!task || (tenant !== null && (task.tenant ?? null) !== tenant)) {
    throw new VolleyError('not_found', `no task with id ${JSON.stringify(id)}`);
  }
  return task;
}
