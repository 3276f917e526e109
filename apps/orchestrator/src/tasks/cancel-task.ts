import { cancelChannel, type Logger } from '@volley/shared';
import { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { openTurn } from './open-turn.ts';
import { TERMINAL_STATUSES, type TaskRecord } from './task-record.ts';
import { emitTaskSpan } from './task-span.ts';
import type { TaskStore } from './task-store.ts';

export interface CancelTaskDeps {
  store: TaskStore;
  fanOut: FanOutQueue;
  redis: Redis;
  logger: Logger;
}

/**
 * Cancels a task: from now on no step of it writes anything or starts anything. The calls of
 * its turn in flight are told on the cancel channel first (running ones abort through their
 * AbortSignal; any that reaches a worker later is answered without running), then those still
 * waiting are removed and those parked for a lock are woken so they leave their lines at once.
 * A finished task is left as it is.
 */
export async function cancelTask(deps: CancelTaskDeps, task: TaskRecord): Promise<TaskRecord> {
  if (TERMINAL_STATUSES.has(task.status)) return task;
  await deps.store.cancel(task.id);
  const calls = openTurn(task)?.queued ?? [];
  if (calls.length > 0) {
    await deps.redis.publish(cancelChannel(deps.fanOut.prefix), JSON.stringify({ jobs: calls.map((call) => call.jobId) }));
    await Promise.all(calls.map((call) => settle(deps.fanOut, call.pool, call.jobId)));
  }
  deps.logger.info({ taskId: task.id }, 'task cancelled');
  emitTaskSpan(task, 'cancelled', { code: 'cancelled', message: 'the task was cancelled' });
  return (await deps.store.get(task.id)) ?? task;
}

async function settle(fanOut: FanOutQueue, pool: string, jobId: string): Promise<void> {
  const queue = fanOut.toolQueue(pool);
  const job = await Job.fromId(queue, jobId);
  if (!job) return;
  const state = await job.getState();
  if (state === 'waiting' || state === 'prioritized') await job.remove().catch(() => undefined);
  else if (state === 'delayed') await job.promote().catch(() => undefined);
}
