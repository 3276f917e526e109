import { taskEndedKey, taskGatheredKey, VolleyError, type CallError, type KeySpaces } from '@volley/shared';
import type { Redis } from 'ioredis';
import { changesSince, headerOfReply, NOTHING_STORED, taskOfReply, type StoredState, type TaskHeader, type TaskReply } from './task-entries.ts';
import { TERMINAL_STATUSES, type TaskRecord, type TaskStatus } from './task-record.ts';
import { END_SCRIPT, PUT_SCRIPT, READ_SCRIPT } from './task-store-scripts.ts';
import { TranscriptCache } from './transcript-cache.ts';

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

/** Where a task lives in Redis: every key of it, under its stem `<prefix>:task:<id>`. */
interface TaskKeys {
  /** Its scalar fields (status, usage, output, …): a hash of JSON values, one field each. */
  header: string;
  /** Its transcript: a list of JSON messages, appended to. */
  messages: string;
  /** Its turns: a hash of JSON turns by index, so a step rewrites only the turn it works on. */
  turns: string;
  ended: string;
  gathered: string;
}

/** Each script takes the task's keys in `keysOf` order first (the put script then the fence's lock key), then its arguments. */
type ScriptedRedis = Redis & {
  volleyReadTask(...keysAndArgs: string[]): Promise<TaskReply>;
  volleyPutTask(...keysAndArgs: Array<string | number>): Promise<number>;
  volleyEndTask(...keysAndArgs: Array<string | number>): Promise<number>;
};

/**
 * What the store last read or wrote of each record it handed out (by identity), so that `put`
 * sends only what changed since. A record the store did not hand out has nothing to diff with.
 */
const storedStates = new WeakMap<TaskRecord, StoredState>();

/**
 * Tasks live in Redis so any orchestrator instance can serve or advance any task. A task is a
 * header (its scalar fields) plus its history as entries a step adds: messages appended to a
 * list, turns in a hash by index. A step's write carries only what it changed — the messages it
 * added, the turn it worked on, the header fields that moved — so what a step writes does not
 * grow with the transcript (reading it for the model call does). Only the owner of the task's
 * current step job writes (every write of a step carries its `StepFence`, checked in the write
 * script), and appends are checked against the list's length as the step read it. How a task
 * ended is a key of its own, set once: a step's write after it is refused, and a cancel or
 * deadline ends the task without rewriting it.
 *
 * Records written in the old layout (one JSON document at the stem) are read as they are, and
 * converted by their next write.
 */
export class TaskStore {
  private readonly redis: ScriptedRedis;
  private readonly spaces: KeySpaces;
  /** How long a task's keys live after its last write; what belongs with a task lives as long. */
  readonly ttlSeconds: number;
  private readonly onTransition: (status: TaskStatus) => void;
  private readonly transcripts: TranscriptCache | undefined;

  /**
   * `onTransition` hears of each task once as `queued` (created: only creation writes that
   * status) and once as it ends (`completed`, `failed`, `cancelled`), e.g. to count tasks.
   * `transcriptCacheBytes`: keep the transcripts of the tasks read and written last, up to this
   * many bytes, so the next step of one reads only the messages added since (see
   * `TranscriptCache`); for the steps' store, whose records only the steps touch.
   */
  constructor(deps: {
    redis: Redis;
    spaces: KeySpaces;
    ttlSeconds: number;
    onTransition?: (status: TaskStatus) => void;
    transcriptCacheBytes?: number;
  }) {
    const redis = deps.redis as ScriptedRedis;
    if (typeof redis.volleyPutTask !== 'function') {
      redis.defineCommand('volleyReadTask', { numberOfKeys: 5, lua: READ_SCRIPT });
      redis.defineCommand('volleyPutTask', { numberOfKeys: 6, lua: PUT_SCRIPT });
      redis.defineCommand('volleyEndTask', { numberOfKeys: 5, lua: END_SCRIPT });
    }
    this.redis = redis;
    this.spaces = deps.spaces;
    this.ttlSeconds = deps.ttlSeconds;
    this.onTransition = deps.onTransition ?? (() => undefined);
    this.transcripts = deps.transcriptCacheBytes ? new TranscriptCache(deps.transcriptCacheBytes) : undefined;
  }

  /** Every key of a task is named here, from its shard's prefix and the id: one hash slot, so a script may touch them all. */
  private keys(id: string): TaskKeys {
    const prefix = this.spaces.of(id);
    const stem = `${prefix}:task:${id}`;
    return {
      header: stem,
      messages: `${stem}:messages`,
      turns: `${stem}:turns`,
      ended: taskEndedKey(prefix, id),
      gathered: taskGatheredKey(prefix, id),
    };
  }

  private read(id: string, ...part: ['all'] | ['header'] | ['from', string]): Promise<TaskReply> {
    return this.redis.volleyReadTask(...this.keysOf(id), ...part);
  }

  /**
   * The whole record (one script: a consistent view), or undefined. A step may `put` what it
   * got. With its transcript cached, only the messages past it are read.
   */
  async get(id: string): Promise<TaskRecord | undefined> {
    const cached = this.transcripts?.get(id);
    const reply = await (cached ? this.read(id, 'from', String(cached.messages.length)) : this.read(id, 'all'));
    if (reply === null) {
      this.transcripts?.delete(id);
      return undefined;
    }
    const { task, stored, transcript } = taskOfReply(reply, cached);
    storedStates.set(task, stored);
    if (transcript) this.transcripts?.set(id, transcript);
    return withEnding(task, reply[0]);
  }

  /**
   * Several records at once, each as `get` reads it; undefined where there is none. Sent
   * together (one round trip), each a read of its own, so tasks may live on different nodes.
   */
  getMany(ids: readonly string[]): Promise<Array<TaskRecord | undefined>> {
    return Promise.all(ids.map((id) => this.get(id)));
  }

  /** The records without their messages and turns (what a listing shows): reads no transcript. */
  headers(ids: readonly string[]): Promise<Array<TaskHeader | undefined>> {
    return Promise.all(
      ids.map(async (id) => {
        const reply = await this.read(id, 'header');
        return reply === null ? undefined : withEnding(headerOfReply(reply), reply[0]);
      }),
    );
  }

  /** The keys that hold a task: its header, messages and turns, and its ended and gathered marks (the scripts' KEYS, in order). */
  keysOf(id: string): string[] {
    const { header, messages, turns, ended, gathered } = this.keys(id);
    return [header, messages, turns, ended, gathered];
  }

  /** Writes a new task whole; the only write without a record read before. */
  async create(task: TaskRecord): Promise<void> {
    await this.write(task, NOTHING_STORED);
  }

  /**
   * Writes what changed in `task` since `get` handed it out (or since its last write): the
   * messages added, the turns and header fields whose JSON changed. Throws `TaskEnded` when the
   * task ended meanwhile and `StepSuperseded` when `fence` no longer owns its step (or another
   * run added to the transcript): either way the step stops there. `gatheredTurn`: this write
   * holds the gathered results of that turn.
   */
  async put(task: TaskRecord, fence?: StepFence, gatheredTurn?: number): Promise<void> {
    const stored = storedStates.get(task);
    if (!stored) throw new Error(`task ${task.id}: put of a record the store did not hand out (create a task, or put what get answered)`);
    await this.write(task, stored, fence, gatheredTurn);
  }

  private async write(task: TaskRecord, stored: StoredState, fence?: StepFence, gatheredTurn?: number): Promise<void> {
    task.updated_at = Date.now();
    const terminal = TERMINAL_STATUSES.has(task.status);
    const changes = changesSince(task, stored);
    const keys = this.keysOf(task.id);
    const written = await this.redis.volleyPutTask(
      ...keys,
      // Unfenced (creation, the end of a dead step): any key of the task's slot stands in, unread.
      fence?.lockKey ?? keys[0]!,
      this.ttlSeconds,
      fence?.token ?? '',
      terminal ? JSON.stringify(endingOf(task)) : '',
      gatheredTurn === undefined ? '' : String(gatheredTurn),
      stored.legacy ? '1' : '',
      stored.messages,
      changes.messages.length,
      changes.header.length,
      changes.removed.length,
      changes.turns.length,
      ...changes.messages,
      ...changes.header.flat(),
      ...changes.removed,
      ...changes.turns.flat(),
    );
    if (written === 0) throw new TaskEnded(task.id);
    if (written < 0) throw new StepSuperseded(task.id);
    storedStates.set(task, changes.after);
    // An ended task has no next step to read it.
    if (terminal) this.transcripts?.delete(task.id);
    else this.transcripts?.set(task.id, { messages: [...task.messages], bytes: changes.after.messageBytes });
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
    const ended = (await this.redis.volleyEndTask(...this.keysOf(id), JSON.stringify(mark), this.ttlSeconds)) === 1;
    if (ended) this.onTransition(ending.status);
    return ended;
  }
}

/** A record as stored, with its ended mark ('' when none) laid over it. */
function withEnding<T extends TaskHeader>(task: T, ended: string): T {
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

/**
 * The step's job lock lapsed and another process took the step over (or added to the task's
 * transcript since this run read it): this run writes nothing more.
 */
export class StepSuperseded extends Error {
  override name = 'StepSuperseded';
  constructor(taskId: string) {
    super(`a step of task ${taskId} was taken over by another process`);
  }
}
