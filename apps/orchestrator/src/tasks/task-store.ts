import { VolleyError } from '@volley/shared';
import type { Redis } from 'ioredis';
import { TERMINAL_STATUSES, type TaskRecord, type TaskStatus } from './task-record.ts';

type GuardedRedis = Redis & { volleyPutTask(record: string, cancelled: string, body: string, ttl: number): Promise<number> };

/** Writes the record unless the task was cancelled; a finished task's record expires. */
const PUT_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

/**
 * Tasks live in Redis, one JSON document each, so any orchestrator instance can serve or
 * advance any task. Only the step job of a task writes the document, and a task has one step
 * in flight at a time, so whole-document writes do not race. Cancellation is a key of its own,
 * never a rewrite of the document: it wins over whatever a running step writes next, and a
 * step's write after it is refused.
 */
export class TaskStore {
  private readonly redis: GuardedRedis;
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly onTransition: (status: TaskStatus) => void;

  /**
   * `onTransition` hears of each task once as `queued` (created: only creation writes that
   * status) and once as it ends (`completed`, `failed`: a finished task is never written again;
   * `cancelled`), e.g. to count tasks.
   */
  constructor(deps: { redis: Redis; prefix: string; ttlSeconds: number; onTransition?: (status: TaskStatus) => void }) {
    const redis = deps.redis as GuardedRedis;
    if (typeof redis.volleyPutTask !== 'function') redis.defineCommand('volleyPutTask', { numberOfKeys: 2, lua: PUT_SCRIPT });
    this.redis = redis;
    this.prefix = deps.prefix;
    this.ttlSeconds = deps.ttlSeconds;
    this.onTransition = deps.onTransition ?? (() => undefined);
  }

  private key(id: string): string {
    return `${this.prefix}:task:${id}`;
  }

  private cancelledKey(id: string): string {
    return `${this.prefix}:task:${id}:cancelled`;
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const [body, cancelledAt] = await this.redis.mget(this.key(id), this.cancelledKey(id));
    if (body === null || body === undefined) return undefined;
    const task = JSON.parse(body) as TaskRecord;
    if (cancelledAt && !TERMINAL_STATUSES.has(task.status)) {
      task.status = 'cancelled';
      task.updated_at = Number(cancelledAt);
    }
    return task;
  }

  /** Throws `TaskCancelled` when the task was cancelled meanwhile: the step stops there. */
  async put(task: TaskRecord): Promise<void> {
    task.updated_at = Date.now();
    const ttl = TERMINAL_STATUSES.has(task.status) ? this.ttlSeconds : 0;
    const written = await this.redis.volleyPutTask(this.key(task.id), this.cancelledKey(task.id), JSON.stringify(task), ttl);
    if (written === 0) throw new TaskCancelled(task.id);
    if (task.status !== 'running') this.onTransition(task.status);
  }

  /** Marks the task cancelled; the record keeps what happened up to now. */
  async cancel(id: string): Promise<void> {
    await this.redis.multi().set(this.cancelledKey(id), Date.now(), 'EX', this.ttlSeconds).expire(this.key(id), this.ttlSeconds).exec();
    this.onTransition('cancelled');
  }
}

export class TaskCancelled extends VolleyError {
  constructor(taskId: string) {
    super('cancelled', `task ${taskId} was cancelled`);
  }
}
