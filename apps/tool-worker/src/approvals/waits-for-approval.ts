import type { Approvals } from '@volley/shared';
import type { Redis } from 'ioredis';

/**
 * Whether the call standing in line as `ticket` (`<queue>|<job id>`) waits for a person's
 * decision: a call queued behind it is held up by a person, not by a stuck holder, so its lock
 * wait timeout does not end its wait (the waiting call's own approval timeout bounds it). Read
 * only when a call reaches its lock wait timeout: two round trips then, none on the hot path.
 */
export function waitsForApproval(deps: { redis: Redis; prefix: string; approvals: Approvals }): (ticket: string) => Promise<boolean> {
  return async (ticket) => {
    const bar = ticket.indexOf('|');
    const jobId = ticket.slice(bar + 1);
    const body = await deps.redis.hget(`${deps.prefix}:${ticket.slice(0, bar)}:${jobId}`, 'data');
    if (body === null) return false;
    const data = JSON.parse(body) as { taskId?: unknown; toolCallId?: unknown };
    if (typeof data.taskId !== 'string' || typeof data.toolCallId !== 'string') return false;
    const record = await deps.approvals.get(data.taskId, data.toolCallId);
    return record !== undefined && record.job_id === jobId && record.decision === undefined;
  };
}
