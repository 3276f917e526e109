import { taskEndedKey, taskGatheredKey, VolleyError, type CallError, type KeySpaces } from '@volley/shared';
import type { Redis } from 'ioredis';
import { TERMINAL_STATUSES, type TaskRecord, type TaskStatus } from './task-record.ts';

/** How a task ended, kept beside its record (see `taskEndedKey`). */
export interface TaskEnding {
  status: Exclude<TaskStatus, 'queued' | 'running' | 'awaiting_approval'>;
  at: number;
  error?: CallError;
}

/**
 * The step job that writes: only the process holding its BullMQ job lock (`<job key>:lock`
 * holds the token of its owner) may write. A step whose owner stalled past its lock (GC pause,
 * partition, SIGSTOP) lost the step to another process and must not write when it wakes.
 */
export interface StepFence {
  lockKey: string;
  token: string;
}

type GuardedRedis = Redis & {
  volleyPutTask(
    record: string,
    ended: string,
    lock: string,
    gathered: string,
    body: string,
    ttl: number,
    token: string,
    ending: string,
    gatheredTurn: string,
  ): Promise<number>;
  volleyEndTask(record: string, ended: string, ending: string, ttl: number): Promise<number>;
};

/**
 * Writes the record unless the task has ended (1), or refuses: 0 ended, -1 the step's fence is
 * no longer its owner's. A terminal write sets the ended mark in the same step, so nothing can
 * write the task again. A write that gathered a turn records that turn as gathered (see
 * `taskGatheredKey`). Every write carries the TTL, counted from the last write: a record whose
 * first step never got queued (Redis stopped answering in between) cannot stay for good.
 */
const PUT_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
if ARGV[5] ~= '' then redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[2]) end
if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[2]) end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`;

/** Ends a task from outside its steps (cancel, deadline): 1 when this call ended it, 0 if it had ended. */
const END_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) == false then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * Tasks live in Redis, one JSON document each, so any orchestrator instance can serve or
 * advance any task. Only the owner of the task's current step job writes the document (every
 * write of a step carries its `StepFence`, checked in the write script), so whole-document
 * writes do not race. How a task ended is a key of its own, set once: a step's write after it is
 * refused, and a cancel or deadline ends the task without rewriting the document.
 */
export class TaskStore {
  private readonly redis: GuardedRedis;
  private readonly spaces: KeySpaces;
  /** How long a task's keys live after its last write; what belongs with a task lives as long. */
  readonly ttlSeconds: number;
  private readonly onTransition: (status: TaskStatus) => void;

  /**
   * `onTransition` hears of each task once as `queued` (created: only creation writes that
   * status) and once as it ends (`completed`, `failed`, `cancelled`), e.g. to count tasks.
   */
  constructor(deps: { redis: Redis; spaces: KeySpaces; ttlSeconds: number; onTransition?: (status: TaskStatus) => void }) {
    const redis = deps.redis as GuardedRedis;
    if (typeof redis.volleyPutTask !== 'function') {
      redis.defineCommand('volleyPutTask', { numberOfKeys: 4, lua: PUT_SCRIPT });
      redis.defineCommand('volleyEndTask', { numberOfKeys: 2, lua: END_SCRIPT });
    }
    this.redis = redis;
    this.spaces = deps.spaces;
    this.ttlSeconds = deps.ttlSeconds;
    this.onTransition = deps.onTransition ?? (() => undefined);
  }

  /** Every key of a task is in its shard (one hash slot), so a script may touch them all. */
  private keys(id: string): { record: string; ended: string; gathered: string } {
    const prefix = this.spaces.of(id);
    return { record: `${prefix}:task:${id}`, ended: taskEndedKey(prefix, id), gathered: taskGatheredKey(prefix, id) };
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const keys = this.keys(id);
    const [body, ended] = await this.redis.mget(keys.record, keys.ended);
    return recordOf(body ?? null, ended ?? null);
  }

  /**
   * Several records at once (one MGET per shard: a multi-key read stays in one slot), each as
   * `get` reads it; undefined where there is none. Records are whole transcripts, parsed in full.
   */
  async getMany(ids: readonly string[]): Promise<Array<TaskRecord | undefined>> {
    const read = new Map<string, TaskRecord | undefined>();
    await Promise.all(
      [...Map.groupBy(new Set(ids), (id) => this.spaces.of(id)).values()].map(async (ofShard) => {
        const values = await this.redis.mget(ofShard.flatMap((id) => [this.keys(id).record, this.keys(id).ended]));
        for (const [index, id] of ofShard.entries()) read.set(id, recordOf(values[2 * index] ?? null, values[2 * index + 1] ?? null));
      }),
    );
    return ids.map((id) => read.get(id));
  }

  /** The keys that hold a task: its record and its ended and gathered marks. */
  keysOf(id: string): string[] {
    return Object.values(this.keys(id));
  }

  /**
   * Writes the whole record. Throws `TaskEnded` when the task ended meanwhile and
   * `StepSuperseded` when `fence` no longer owns its step: either way the step stops there.
   * `gatheredTurn`: this write holds the gathered results of that turn.
   */
  async put(task: TaskRecord, fence?: StepFence, gatheredTurn?: number): Promise<void> {
    task.updated_at = Date.now();
    const terminal = TERMINAL_STATUSES.has(task.status);
    const ending = terminal ? JSON.stringify(endingOf(task)) : '';
    const keys = this.keys(task.id);
    const written = await this.redis.volleyPutTask(
      keys.record,
      keys.ended,
      fence?.lockKey ?? keys.record,
      keys.gathered,
      JSON.stringify(task),
      this.ttlSeconds,
      fence?.token ?? '',
      ending,
      gatheredTurn === undefined ? '' : String(gatheredTurn),
    );
    if (written === 0) throw new TaskEnded(task.id);
    if (written === -1) throw new StepSuperseded(task.id);
    if (task.status !== 'running') this.onTransition(task.status);
  }

  /** Whether `fence` still owns its step: checked before work no write would cover (a model call). */
  async owns(fence: StepFence): Promise<boolean> {
    return (await this.redis.get(fence.lockKey)) === fence.token;
  }

  /**
   * Ends a task that has not ended yet (cancel, deadline); the record keeps what happened up to
   * now. Returns whether this call ended it.
   */
  async end(id: string, ending: Omit<TaskEnding, 'at'>): Promise<boolean> {
    const mark: TaskEnding = { ...ending, at: Date.now() };
    const keys = this.keys(id);
    const ended = (await this.redis.volleyEndTask(keys.record, keys.ended, JSON.stringify(mark), this.ttlSeconds)) === 1;
    if (ended) this.onTransition(ending.status);
    return ended;
  }
}

/** A record as stored, with its ended mark laid over it. */
function recordOf(body: string | null, ended: string | null): TaskRecord | undefined {
  if (body === null) return undefined;
  const task = JSON.parse(body) as TaskRecord;
  if (ended && !TERMINAL_STATUSES.has(task.status)) {
    // Ended from outside its steps: the record keeps what happened up to then.
    const ending = JSON.parse(ended) as TaskEnding;
    task.status = ending.status;
    task.updated_at = ending.at;
    if (ending.error) task.error = ending.error;
  }
  return task;
}

function endingOf(task: TaskRecord): TaskEnding {
  return { status: task.status as TaskEnding['status'], at: task.updated_at, ...(task.error ? { error: task.error } : {}) };
}

/** The task ended (finished, cancelled, timed out) while a step was running: it writes nothing more. */
export class TaskEnded extends VolleyError {
  constructor(taskId: string) {
    super('cancelled', `task ${taskId} has ended`);
  }
}

/** The step's job lock lapsed and another process took the step over: this run writes nothing more. */
export class StepSuperseded extends Error {
  override name = 'StepSuperseded';
  constructor(taskId: string) {
    super(`a step of task ${taskId} was taken over by another process`);
  }
}
