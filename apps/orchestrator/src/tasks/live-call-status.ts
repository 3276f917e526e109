import { fanOutId, taskStepJobId, toolCallJobId, toolCallResultSchema, toolQueueName } from '@volley/shared';
import { Job } from 'bullmq';
import { withResult } from '../fan-out/call-record.ts';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import type { CallRecord, TaskRecord } from './task-record.ts';

/**
 * The task record is written once per step, so while a turn's calls run it still says
 * `queued`. A reader gets the live state from the queue instead: finished results from the
 * fan-in job, and running calls from their own jobs. Nothing on the hot path pays for this.
 */
export async function withLiveCallStatus(task: TaskRecord, queues: FanOutQueue): Promise<TaskRecord> {
  const turn = task.turns.at(-1);
  if (task.status !== 'running' || !turn || turn.gathered_at !== undefined) return task;
  const pending = turn.tool_calls.flatMap((call, index) => (call.status === 'queued' && call.pool ? [{ call, index }] : []));
  if (pending.length === 0) return task;

  const fanIn = await Job.fromId(queues.turns, taskStepJobId(task.id, turn.index + 1));
  const values = ((await fanIn?.getChildrenValues()) ?? {}) as Record<string, unknown>;
  const fanOut = fanOutId(task.id, turn.index);
  const live = await Promise.all(
    pending.map(async ({ call, index }): Promise<[CallRecord, CallRecord]> => {
      const jobId = toolCallJobId(fanOut, index);
      const queueName = toolQueueName(call.pool!);
      const finished = toolCallResultSchema.safeParse(values[`${queues.prefix}:${queueName}:${jobId}`]);
      if (finished.success) return [call, withResult(call, finished.data)];
      const job = await Job.fromId(queues.toolQueue(call.pool!), jobId);
      if (!job?.processedOn) return [call, call];
      return [call, { ...call, status: 'running', started_at: job.processedOn, attempts: job.attemptsStarted }];
    }),
  );
  const replaced = new Map(live);
  return {
    ...task,
    turns: task.turns.map((t) => (t === turn ? { ...t, tool_calls: t.tool_calls.map((c) => replaced.get(c) ?? c) } : t)),
  };
}
