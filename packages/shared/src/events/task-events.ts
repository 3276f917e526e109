import type { Redis } from 'ioredis';

/**
 * The events of a task, a contract: clients subscribe to these names over
 * `GET /v1/tasks/:id/events`, in the order Redis received them from whichever process saw them.
 */
export const TASK_EVENT_NAMES = [
  'task.status',
  'llm.started',
  'llm.delta',
  'llm.finished',
  'tool_call.queued',
  'tool_call.waiting_lock',
  'tool_call.started',
  'tool_call.progress',
  'tool_call.finished',
  'approval.requested',
  'approval.decided',
  'turn.gathered',
  'task.finished',
] as const;
export type TaskEventName = (typeof TASK_EVENT_NAMES)[number];

/** What an event says beyond its task and time: its turn (null when it belongs to none) and more. */
export type TaskEventFields = { turn: number | null } & Record<string, unknown>;

/** One task's events: a Redis stream, so every process appends and readers resume by id. */
export function taskEventsKey(prefix: string, taskId: string): string {
  return `${prefix}:task:${taskId}:events`;
}

/**
 * Appends task events. Each entry holds `event` (the name) and `data` (JSON with `task_id`,
 * `turn`, `at` and the fields), and the stream expires with the task (`ttlSeconds` from its last
 * event), so it needs no owner to delete it.
 */
export class TaskEvents {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(deps: { redis: Redis; prefix: string; ttlSeconds: number }) {
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.ttlSeconds = deps.ttlSeconds;
  }

  /** Appends one event; returns its stream id. */
  async append(taskId: string, name: TaskEventName, fields: TaskEventFields): Promise<string> {
    const [id] = await this.appendAll(taskId, [{ name, fields }]);
    return id!;
  }

  /** Appends several events of one task, in order, in one round trip; returns their stream ids. */
  async appendAll(taskId: string, events: ReadonlyArray<{ name: TaskEventName; fields: TaskEventFields }>): Promise<string[]> {
    if (events.length === 0) return [];
    const key = taskEventsKey(this.prefix, taskId);
    const at = Date.now();
    const pipeline = this.redis.multi();
    for (const { name, fields } of events) pipeline.xadd(key, '*', 'event', name, 'data', JSON.stringify({ task_id: taskId, at, ...fields }));
    pipeline.expire(key, this.ttlSeconds);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    return replies.slice(0, events.length).map(([, id]) => String(id));
  }
}
