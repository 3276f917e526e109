/**
 * Queue names and job ids. BullMQ rejects ':' in job ids, so ids are built from
 * ids Volley makes itself (task ids, turn and call indexes), never from a model's tool_call_id.
 */

export const DEFAULT_POOL = 'default';
export const DEFAULT_PREFIX = 'volley';

/** The queue the orchestrators consume: task steps (model calls) and fan-in of bare fan-outs. */
export const TURN_QUEUE = 'turns';

/** The queue the workers of one pool consume. */
export function toolQueueName(pool: string): string {
  return `tools-${pool}`;
}

export function taskStepJobId(taskId: string, turn: number): string {
  return `${taskId}-step-${turn}`;
}

export function fanOutId(ownerId: string, turn: number): string {
  return `${ownerId}-t${turn}`;
}

export function toolCallJobId(fanOut: string, index: number): string {
  return `${fanOut}-c${index}`;
}

export const POOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** A call's place in resource lines: its job, named so a lock script can find it. */
export function lockTicket(queueName: string, jobId: string): string {
  return `${queueName}|${jobId}`;
}

/** Where orchestrators announce cancelled calls (job ids) to every worker. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}
