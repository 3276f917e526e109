import type { Redis } from 'ioredis';

/** A place in a tenant's listing: the task's creation time (its score) and id. */
export interface IndexEntry {
  id: string;
  score: number;
}

/**
 * How long past the records' TTL an entry is kept: a record expires its TTL after its last write,
 * which may come this long after the task was created (the longest `timeout_ms` a task may have).
 */
const LONGEST_TASK_SECONDS = 7 * 24 * 3600;

/**
 * The tasks of each tenant, newest first: a sorted set per tenant (`tasks:<tenant>`, `-` with
 * auth off) of task ids scored by `created_at`. It stays bounded: every add drops the members
 * created longer ago than a record can live (its TTL plus the longest task) and renews the set's
 * own TTL to that, so a tenant that stops submitting leaves nothing behind; members whose record
 * expired sooner are skipped (and removed) when listed, and a deleted task leaves it with its record.
 */
export class TaskIndex {
  private readonly redis: Redis;
  private readonly prefix: string;
  /** How long an entry (and the set, after its last add) is kept. */
  private readonly retentionSeconds: number;

  /** `ttlSeconds`: the task records' (`VOLLEY_TASK_TTL_SECONDS`). */
  constructor(deps: { redis: Redis; prefix: string; ttlSeconds: number }) {
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.retentionSeconds = deps.ttlSeconds + LONGEST_TASK_SECONDS;
  }

  key(tenant: string | null): string {
    return `${this.prefix}:tasks:${tenant ?? '-'}`;
  }

  async add(task: { id: string; tenant: string | null; created_at: number }): Promise<void> {
    const key = this.key(task.tenant);
    const replies = await this.redis
      .multi()
      .zadd(key, task.created_at, task.id)
      .zremrangebyscore(key, '-inf', `(${Date.now() - this.retentionSeconds * 1000}`)
      .expire(key, this.retentionSeconds)
      .exec();
    for (const [error] of replies ?? []) if (error) throw error;
  }

  /** Up to `count` entries from `fromScore` (inclusive; none: the newest) down, newest first. */
  async from(tenant: string | null, fromScore: number | undefined, count: number): Promise<IndexEntry[]> {
    const flat = await this.redis.zrevrangebyscore(this.key(tenant), fromScore ?? '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, count);
    const entries: IndexEntry[] = [];
    for (let index = 0; index < flat.length; index += 2) entries.push({ id: flat[index]!, score: Number(flat[index + 1]) });
    return entries;
  }

  async remove(tenant: string | null, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.zrem(this.key(tenant), ...ids);
  }
}
