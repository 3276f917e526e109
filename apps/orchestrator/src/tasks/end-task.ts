import type { Logger, TaskEvents } from '@volley/shared';
import { emitTaskFinished } from '../events/step-events.ts';
import type { Redis } from 'ioredis';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { withdrawCalls } from '../fan-out/withdraw-calls.ts';
import { openTurn } from './open-turn.ts';
import { emitTaskSpan } from './task-span.ts';
import type { TaskEnding, TaskStore } from './task-store.ts';

export interface EndTaskDeps {
  store: TaskStore;
  fanOut: FanOutQueue;
  redis: Redis;
  logger: Logger;
  /** Where the ending's `task.status` and `task.finished` go; none are emitted without it. */
  events?: TaskEvents;
}

/**
 * Ends a task from outside its steps (a cancel, its deadline): from the moment the ended mark is
 * set no step of it writes or starts anything and no call of it starts. Then, on the record as
 * it is after the mark (a step may have fanned out just before), the calls of its turn in flight
 * are withdrawn. Returns false when the task had already ended, changing nothing.
 */
export async function endTask(deps: EndTaskDeps, id: string, ending: Omit<TaskEnding, 'at'>): Promise<boolean> {
  if (!(await deps.store.end(id, ending))) return false;
  const task = await deps.store.get(id);
  if (!task) return true;
  await emitTaskFinished(deps.events, task, null);
  await withdrawCalls(deps, id, openTurn(task)?.queued ?? []);
  deps.logger.info({ taskId: id, status: ending.status, error: ending.error }, 'task ended from outside its steps');
  emitTaskSpan(task, ending.status, ending.error ?? { code: 'cancelled', message: 'the task was cancelled' });
  return true;
}
