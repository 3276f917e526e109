import {
  callIdempotencyKey,
  callResultKey,
  fanOutId,
  lockPlanKey,
  taskApprovalsKey,
  taskEventsKey,
  taskLockWaitsKey,
  taskStepJobId,
  toolCallJobId,
  VolleyError,
} from '@volley/shared';
import type { Redis } from 'ioredis';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import type { TaskIndex } from './task-index.ts';
import { TERMINAL_STATUSES, type TaskRecord } from './task-record.ts';
import type { TaskStore } from './task-store.ts';

export interface DeleteTaskDeps {
  store: TaskStore;
  index: TaskIndex;
  fanOut: FanOutQueue;
  redis: Redis;
}

/** Step job states in which a step may still run and write the task, or hold up calls of it. */
const LIVE_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Deletes a finished task with every key named after it, in one MULTI per key space: its record, ended and
 * gathered marks, event stream, approval records and lock-wait flags, place in the tenant's
 * listing, and the lock plans and recorded results of its calls (which would otherwise expire
 * within 24 h). A task still queued or running
 * is a 409 `task_not_finished` (cancel it first).
 *
 * So is a task that has ended but whose last step job is still live — a cancelled task whose
 * model call is in flight, or whose fan-in still waits for calls the cancel left to be picked up
 * (a waiting locking call): the ended mark is what keeps those from running or writing, so it
 * stays until they are over. Once the step jobs are gone, a call of the task that is picked up
 * finds its fan-in gone and does not run, and no step is left to write.
 */
export async function deleteTask(deps: DeleteTaskDeps, task: TaskRecord): Promise<void> {
  if (!TERMINAL_STATUSES.has(task.status)) {
    throw new VolleyError('task_not_finished', `task ${task.id} is ${task.status}: only a finished task can be deleted (cancel it first)`);
  }
  if (await hasLiveStep(deps.fanOut, task)) {
    throw new VolleyError('task_not_finished', `task ${task.id} is ${task.status}, but a step of it is still winding down; retry shortly`);
  }
  // The lock plans and results of locked calls are in the home space, beside the locks; the rest
  // in the task's shard. On Redis Cluster those are two slots: one MULTI each.
  const home = deps.fanOut.spaces.home;
  const callKeys = task.turns.flatMap((turn) => {
    const fanOut = fanOutId(task.id, turn.index);
    return [lockPlanKey(home, fanOut), ...turn.tool_calls.map((call, index) => callResultKey(home, callIdempotencyKey(toolCallJobId(fanOut, index), call.id)))];
  });
  const shard = deps.fanOut.spaces.of(task.id);
  const taskKeys = [...deps.store.keysOf(task.id), ...[taskEventsKey, taskApprovalsKey, taskLockWaitsKey].map((key) => key(shard, task.id))];
  const homeWrite = deps.redis.multi().zrem(deps.index.key(task.tenant), task.id);
  const writes =
    shard === home
      ? [homeWrite.del(...taskKeys, ...callKeys).exec()]
      : [
          deps.redis
            .multi()
            .del(...taskKeys)
            .exec(),
          (callKeys.length > 0 ? homeWrite.del(...callKeys) : homeWrite).exec(),
        ];
  for (const replies of await Promise.all(writes)) for (const [error] of replies ?? []) if (error) throw error;
}

/**
 * Whether a step job around the task's last turn may still run: the step that recorded it (it
 * fans out after writing), the fan-in that gathers it, and the step after.
 */
async function hasLiveStep(fanOut: FanOutQueue, task: TaskRecord): Promise<boolean> {
  const last = task.turns.length;
  const steps = [last - 1, last, last + 1].filter((step) => step >= 0);
  const states = await Promise.all(steps.map((step) => fanOut.turnsOf(task.id).getJobState(taskStepJobId(task.id, step))));
  return states.some((state) => LIVE_JOB_STATES.has(state));
}
