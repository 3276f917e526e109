import type { Redis } from 'ioredis';
import { TERMINAL_STATUSES, type TaskRecord } from './task-record.ts';

/**
 * Tasks live in Redis, one JSON document each, so any orchestrator instance can serve or
 * advance any task. Only the step job of a task writes it, and a task has one step in flight
 * at a time, so whole-document writes do not race.
 */
export class TaskStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(deps: { redis: Redis; prefix: string; ttlSeconds: number }) {
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.ttlSeconds = deps.ttlSeconds;
  }

  private key(id: string): string {
    return `${this.prefix}:task:${id}`;
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const body = await this.redis.get(this.key(id));
    return body === null ? undefined : (JSON.parse(body) as TaskRecord);
  }

  /** Finished tasks expire after the retention; running ones are kept. */
  async put(task: TaskRecord): Promise<void> {
    task.updated_at = Date.now();
    const body = JSON.stringify(task);
    if (TERMINAL_STATUSES.has(task.status)) await this.redis.set(this.key(task.id), body, 'EX', this.ttlSeconds);
    else await this.redis.set(this.key(task.id), body);
  }
}
