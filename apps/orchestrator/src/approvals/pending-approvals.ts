import type { PendingApproval } from '@volley/api-schemas';
import type { Approvals } from '@volley/shared';
import { openTurn } from '../tasks/open-turn.ts';
import type { TaskRecord } from '../tasks/task-record.ts';

export { pendingApprovalSchema } from '@volley/api-schemas';
export type { PendingApproval } from '@volley/api-schemas';

/**
 * Read-time view of the approvals a running task waits for: derived from the task's approvals
 * hash (written by the workers that parked the calls), so no step has to run to show it. While
 * any call of the turn in flight waits, the task reads `awaiting_approval`.
 */
export async function withPendingApprovals(task: TaskRecord, approvals: Approvals): Promise<TaskRecord & { pending_approvals: PendingApproval[] }> {
  const open = task.status === 'running' ? openTurn(task) : undefined;
  const unfinished = new Set(open?.queued.filter(({ call }) => call.status === 'queued' || call.status === 'running').map(({ call }) => call.id));
  if (!open || unfinished.size === 0) return { ...task, pending_approvals: [] };
  const pending = (await approvals.list(task.id))
    .filter((record) => !record.decision && record.turn === open.turn.index && unfinished.has(record.tool_call_id))
    .sort((a, b) => a.requested_at - b.requested_at || a.job_id.localeCompare(b.job_id))
    .map(({ tool_call_id, name, arguments: args, requested_at, timeout_at }) => ({ tool_call_id, name, arguments: args, requested_at, timeout_at }));
  if (pending.length === 0) return { ...task, pending_approvals: [] };
  // Its job was picked up (and parked), but its tool has not started.
  const waiting = new Set(pending.map((p) => p.tool_call_id));
  const turns = task.turns.map((turn) =>
    turn === open.turn
      ? { ...turn, tool_calls: turn.tool_calls.map((c) => (waiting.has(c.id) ? { ...c, status: 'awaiting_approval' as const, started_at: null } : c)) }
      : turn,
  );
  return { ...task, status: 'awaiting_approval', turns, pending_approvals: pending };
}
