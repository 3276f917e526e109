import { endTask, type EndTaskDeps } from './end-task.ts';
import type { TaskRecord } from './task-record.ts';

export type CancelTaskDeps = EndTaskDeps;

/**
 * Cancels a task (see `endTask`): its running calls see their AbortSignal fire, waiting ones
 * are removed, parked ones leave their lock lines. A finished task is left as it is. Answers the
 * task as it is now.
 */
export async function cancelTask(deps: CancelTaskDeps, task: TaskRecord): Promise<TaskRecord> {
  await endTask(deps, task.id, { status: 'cancelled' });
  return (await deps.store.get(task.id)) ?? task;
}
