import { taskStepJobId, toolCallJobKey, toolCallResultSchema } from '@volley/shared';
import { Job } from 'bullmq';
import { withResult } from '../fan-out/call-record.ts';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { openTurn } from './open-turn.ts';
import type { CallRecord, TaskRecord } from './task-record.ts';

/**
 * The task record is written once per step, so while a turn's calls run it still says
 * `queued`. A reader gets the live state from the queue instead: finished results from the
 * fan-in job, and running calls from their own jobs. Nothing on the hot path pays for this.
 */
export async function withLiveCallStatus(task: TaskRecord, queues: FanOutQueue): Promise<TaskRecord> {
  const open = task.status === 'running' ? openTurn(task) : undefined;
  const pending = open?.queued.filter(({ call }) => call.status === 'queued') ?? [];
  if (!open || pending.length === 0) return task;

  const fanIn = await Job.fromId(queues.turnsOf(task.id), taskStepJobId(task.id, open.turn.index + 1));
  const values = ((await fanIn?.getChildrenValues()) ?? {}) as Record<string, unknown>;
  const live = await Promise.all(
    pending.map(async ({ call, pool, jobId }): Promise<[CallRecord, CallRecord]> => {
      const finished = toolCallResultSchema.safeParse(values[toolCallJobKey(queues.spaces.of(task.id), pool, jobId)]);
      if (finished.success) return [call, withResult(call, finished.data)];
      const job = await Job.fromId(queues.toolQueue(pool, task.id), jobId);
      if (!job?.processedOn) return [call, call];
      return [call, { ...call, status: 'running', started_at: job.processedOn, attempts: job.attemptsStarted }];
    }),
  );
  const replaced = new Map(live);
  return {
    ...task,
    turns: task.turns.map((t) => (t === open.turn ? { ...t, tool_calls: t.tool_calls.map((c) => replaced.get(c) ?? c) } : t)),
  };
}
