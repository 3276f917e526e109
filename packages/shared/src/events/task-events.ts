import type { TaskEventName } from '@volley/api-schemas';
import type { Redis } from 'ioredis';
import type { KeySpaces } from '../queue/key-spaces.ts';

/** What an event says beyond its task and time: its turn (null when it belongs to none) and more. */
export type TaskEventFields = { turn: number | null } & Record<string, unknown>;

/** One task's events: a Redis stream, so every process appends and readers resume by id. */
export function taskEventsKey(prefix: string, taskId: string): string {
  return `${prefix}:task:${taskId}:events`;
}

/**
 * Appends each (name, data) pair of ARGV[2..] to the stream KEYS[1], then sets its TTL to
 * ARGV[1]: one command, atomic, so the stream never exists without an expiry.
 */
const APPEND_SCRIPT = `
local ids = {}
for i = 2, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'event', ARGV[i], 'data', ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return ids
`;

type EventsRedis = Redis & { volleyAppendTaskEvents(key: string, ttl: number, ...pairs: string[]): Promise<string[]> };

/**
 * Appends task events. Each entry holds `event` (the name) and `data` (JSON with `task_id`,
 * `turn`, `at` and the fields), and the stream expires with the task (`ttlSeconds` from its last
 * event), so it needs no owner to delete it. One append is one command (a script): on the hot
 * path of every call, a MULTI of XADD and EXPIRE cost twice the client's and Redis's work.
 */
export class TaskEvents {
  private readonly redis: EventsRedis;
  private readonly spaces: KeySpaces;
  private readonly ttlSeconds: number;

  constructor(deps: { redis: Redis; spaces: KeySpaces; ttlSeconds: number }) {
    const redis = deps.redis as EventsRedis;
    if (typeof redis.volleyAppendTaskEvents !== 'function') redis.defineCommand('volleyAppendTaskEvents', { numberOfKeys: 1, lua: APPEND_SCRIPT });
    this.redis = redis;
    this.spaces = deps.spaces;
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
    const at = Date.now();
    const pairs: string[] = [];
    for (const { name, fields } of events) pairs.push(name, JSON.stringify({ task_id: taskId, at, ...fields }));
    const ids = await this.redis.volleyAppendTaskEvents(taskEventsKey(this.spaces.of(taskId), taskId), this.ttlSeconds, ...pairs);
    return ids.map(String);
  }
}
