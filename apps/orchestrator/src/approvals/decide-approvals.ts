import type { ApprovalsAnswer, ApprovalsBody } from '@volley/api-schemas';
import { TaskEvents, VolleyError, type Approvals, type Logger } from '@volley/shared';
import { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { TERMINAL_STATUSES, type TaskRecord } from '../tasks/task-record.ts';

export { approvalsBodySchema } from '@volley/api-schemas';
export type { ApprovalsBody } from '@volley/api-schemas';

export interface DecideApprovalsDeps {
  approvals: Approvals;
  redis: Redis;
  fanOut: FanOutQueue;
  logger: Logger;
  maxArgumentBytes: number;
}

/**
 * Records a person's decisions on a task's waiting calls — all of them or none (an unknown id
 * is 400 `unknown_tool_call`, a call decided already 409 `already_decided`) — then tells the
 * task's events and wakes the parked calls, which read their decision when they run. A lost
 * wake-up is only a delay: parked calls look again every park interval.
 */
export async function decideApprovals(deps: DecideApprovalsDeps, task: TaskRecord, body: ApprovalsBody): Promise<ApprovalsAnswer> {
  const seen = new Set<string>();
  for (const decision of body.decisions) {
    if (seen.has(decision.tool_call_id)) throw new VolleyError('invalid_request', `tool_call_id ${JSON.stringify(decision.tool_call_id)} is decided twice`);
    seen.add(decision.tool_call_id);
    if (decision.arguments !== undefined) checkArguments(decision.tool_call_id, decision.arguments, decision.approve, deps.maxArgumentBytes);
  }
  if (TERMINAL_STATUSES.has(task.status)) {
    // A call decided before the task ended still says so; any other waits for nothing now.
    for (const { tool_call_id } of body.decisions) {
      if ((await deps.approvals.get(task.id, tool_call_id))?.decision) {
        throw new VolleyError('already_decided', `tool call ${JSON.stringify(tool_call_id)} was decided already`);
      }
    }
    throw new VolleyError('task_ended', `task ${task.id} has ended (${task.status}); its calls wait for nothing`);
  }
  const decidedAt = Date.now();
  const outcome = await deps.approvals.decide(
    task.id,
    body.decisions.map(({ tool_call_id, approve, reason, arguments: args }) => ({
      tool_call_id,
      decision: {
        approve,
        decided_at: decidedAt,
        by: 'person' as const,
        ...(reason === undefined ? {} : { reason }),
        ...(args === undefined ? {} : { arguments: args }),
      },
    })),
  );
  if (!outcome.ok) {
    const id = JSON.stringify(outcome.toolCallId);
    throw outcome.code === 'already_decided'
      ? new VolleyError('already_decided', `tool call ${id} was decided already`)
      : new VolleyError('unknown_tool_call', `no call ${id} of this task waits for approval`);
  }
  if (outcome.taskTtlMs > 0) {
    const events = new TaskEvents({ redis: deps.redis, spaces: deps.fanOut.spaces, ttlSeconds: Math.ceil(outcome.taskTtlMs / 1000) });
    await events
      .appendAll(
        task.id,
        outcome.records.map((record) => ({
          name: 'approval.decided' as const,
          fields: {
            turn: record.turn,
            tool_call_id: record.tool_call_id,
            approve: record.decision!.approve,
            by: 'person',
            decided_at: decidedAt,
            ...(record.decision!.reason === undefined ? {} : { reason: record.decision!.reason }),
            ...(record.decision!.arguments === undefined ? {} : { arguments: record.decision!.arguments }),
          },
        })),
      )
      .catch((error: unknown) => deps.logger.warn({ taskId: task.id, err: error }, 'approval.decided events not appended'));
  }
  await Promise.all(
    outcome.records.map(async (record) => {
      const job = await Job.fromId(deps.fanOut.toolQueue(record.pool, task.id), record.job_id).catch(() => undefined);
      // Not delayed (on its way to parking, or running): it re-reads its decision after it parks.
      await job?.promote().catch(() => undefined);
    }),
  );
  deps.logger.info(
    { taskId: task.id, decisions: outcome.records.map((r) => ({ tool_call_id: r.tool_call_id, approve: r.decision!.approve })) },
    'approvals decided',
  );
  return {
    id: task.id,
    decisions: outcome.records.map((record) => ({ tool_call_id: record.tool_call_id, approve: record.decision!.approve, decided_at: decidedAt })),
  };
}

function checkArguments(toolCallId: string, text: string, approve: boolean, maxBytes: number): void {
  const id = JSON.stringify(toolCallId);
  if (!approve) throw new VolleyError('invalid_request', `decision on ${id}: arguments go only with approve: true`);
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new VolleyError('invalid_request', `decision on ${id}: arguments exceed ${maxBytes} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new VolleyError('invalid_request', `decision on ${id}: arguments are not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VolleyError('invalid_request', `decision on ${id}: arguments must be a JSON object`);
  }
}
