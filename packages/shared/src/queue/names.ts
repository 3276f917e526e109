/**
 * Queue names and job ids. BullMQ rejects ':' in job ids, so ids are built from
 * ids Volley makes itself (task ids, turn and call indexes), never from a model's tool_call_id.
 */

export const DEFAULT_POOL = 'default';
export const DEFAULT_PREFIX = 'volley';
/**
 * On Redis Cluster every key of Volley must live in one hash slot: a flow spans several queues,
 * and the lock and registry scripts touch many keys at once. A `{…}` hash tag in the prefix
 * does that (at the price of one slot's node carrying all of Volley).
 */
export const DEFAULT_CLUSTER_PREFIX = '{volley}';

export function hasHashTag(prefix: string): boolean {
  return /\{[^{}]+\}/.test(prefix);
}

/** The prefix in use: the configured one, or the default for the deployment's kind of Redis. */
export function queuePrefix(configured: string | undefined, clustered: boolean): string {
  return configured ?? (clustered ? DEFAULT_CLUSTER_PREFIX : DEFAULT_PREFIX);
}

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

/** The Redis key of a tool-call job, as BullMQ names it and keys its parent's children values by. */
export function toolCallJobKey(prefix: string, pool: string, jobId: string): string {
  return `${prefix}:${toolQueueName(pool)}:${jobId}`;
}

export const POOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * A call's place in resource lines: its job, by the qualified name of its queue
 * (`<prefix>:<queue>`, BullMQ's `queueQualifiedName`) and its id, so whoever meets the ticket in
 * a line — in any shard — can find the job.
 */
export function lockTicket(queueQualifiedName: string, jobId: string): string {
  return `${queueQualifiedName}|${jobId}`;
}

/** BullMQ's lock of a running job (its value is the run's token): where writes fenced to the run check it. */
export function jobLockKey(job: { queueQualifiedName: string; id?: string | undefined }): string {
  return `${job.queueQualifiedName}:${job.id}:lock`;
}

/** The job a ticket stands for: its queue's prefix and name, its id, and its Redis key. */
export function ticketJob(ticket: string): { prefix: string; queueName: string; jobId: string; jobKey: string } {
  const bar = ticket.indexOf('|');
  const queueKey = ticket.slice(0, bar);
  const colon = queueKey.lastIndexOf(':');
  const jobId = ticket.slice(bar + 1);
  return { prefix: queueKey.slice(0, colon), queueName: queueKey.slice(colon + 1), jobId, jobKey: `${queueKey}:${jobId}` };
}

/**
 * The durable mark of a task (or bare fan-out) that has ended: finished, cancelled, or past its
 * deadline (JSON `{status, at, error?}`). No call of an ended task runs: workers check this key
 * when they pick a call up (a parked call is picked up again when woken) and while its calls run;
 * pub/sub on `cancelChannel` is only the fast path. No step writes the task once it is set.
 */
export function taskEndedKey(prefix: string, taskId: string): string {
  return `${prefix}:task:${taskId}:ended`;
}

/**
 * The index of the last turn of a task whose calls were gathered, set with the gather's write.
 * A call of a gathered turn never runs again, even if a step that ran twice enqueued it anew.
 */
export function taskGatheredKey(prefix: string, taskId: string): string {
  return `${prefix}:task:${taskId}:gathered`;
}

/** The calls of a task that have parked for their locks, a field each: its `tool_call.waiting_lock` is sent once per call. */
export function taskLockWaitsKey(prefix: string, taskId: string): string {
  return `${prefix}:task:${taskId}:lockwaits`;
}

/** A call's `ctx.idempotencyKey`: the same on every retry and redelivery of the call's job. */
export function callIdempotencyKey(jobId: string, toolCallId: string): string {
  return `${jobId}/${toolCallId}`;
}

/**
 * The recorded result of a side-effecting call, under its idempotency key (`<job id>/<tool_call_id>`):
 * a redelivered call is answered from it instead of running again.
 */
export function callResultKey(prefix: string, idempotencyKey: string): string {
  return `${prefix}:callresult:${idempotencyKey}`;
}

/** The lock plan of one fan-out's locking calls (`group` is the fan-out id). */
export function lockPlanKey(prefix: string, group: string): string {
  return `${prefix}:lockplan:${group}`;
}

/** Where orchestrators announce cancelled calls (job ids) to every worker. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}
