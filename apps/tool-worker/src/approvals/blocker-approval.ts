import { ticketJob, type Approvals } from '@volley/shared';
import type { Redis } from 'ioredis';

/** What holds up a call standing in line behind the call of a ticket, as far as approval goes. */
export type BlockerApproval = { pending: true } | { pending: false; decidedAt: number };

/**
 * The approval state of the call standing in line as `ticket` (see `lockTicket`), if it
 * asked for one: a call queued behind a call that waits for a person is held up by the person,
 * not by a stuck holder, so its lock wait timeout does not end its wait (the waiting call's own
 * approval timeout bounds it), and once that call is decided it counts its wait from the
 * decision. Read only when a call reaches its lock wait timeout: two round trips then, none on
 * the hot path.
 */
export function blockerApproval(deps: { redis: Redis; approvals: Approvals }): (ticket: string) => Promise<BlockerApproval | undefined> {
  return async (ticket) => {
    const { jobId, jobKey } = ticketJob(ticket);
    const body = await deps.redis.hget(jobKey, 'data');
    if (body === null) return undefined;
    const data = JSON.parse(body) as { taskId?: unknown; toolCallId?: unknown };
    if (typeof data.taskId !== 'string' || typeof data.toolCallId !== 'string') return undefined;
    const record = await deps.approvals.get(data.taskId, data.toolCallId);
    if (!record || record.job_id !== jobId) return undefined;
    return record.decision ? { pending: false, decidedAt: record.decision.decided_at } : { pending: true };
  };
}
