import {
  TaskEvents,
  taskLockWaitsKey,
  type KeySpaces,
  type Logger,
  type TaskEventFields,
  type TaskEventName,
  type ToolCallJobData,
  type ToolCallResult,
} from '@volley/shared';
import type { Redis } from 'ioredis';

/** A progress value's JSON may be this long at most; a longer one is sent as `{ truncated: true }`. */
export const MAX_PROGRESS_BYTES = 4_096;
/** At most one `tool_call.progress` per call this often: the latest value wins, the last one is always sent. */
export const PROGRESS_INTERVAL_MS = 100;
/**
 * The events of a fan-out of no task are read while it runs, by the request that made it (which
 * then deletes them); this only bounds what a reader that went away leaves behind. A fan-out
 * lasts an hour at most, and each append renews it.
 */
export const FAN_OUT_EVENTS_TTL_SECONDS = 3600;

/** What one task call tells its task's event stream. */
export interface CallEventSink {
  /** The call parked to wait for its locks: sent once per call, however often it parks again. */
  waitingLock(): Promise<void>;
  /** The tool starts (fire-and-forget). */
  started(attempt: number): void;
  /** `ctx.progress(value)`: coalesced, size-capped, fire-and-forget. */
  progress(value: unknown): void;
  /** Resolves once `tool_call.finished` (after any progress still pending) is appended. */
  finished(result: ToolCallResult): Promise<void>;
}

/**
 * The worker's side of the task events. Calls of a task (their job data has `turn`) emit, and so
 * do calls of a bare fan-out that asked for it (`events`, with `turn: null`); other bare
 * fan-outs get no sink and pay nothing. Every event of a call goes out on one connection in the
 * order it was sent, so Redis appends them in that order whether or not an earlier one was awaited.
 */
export class CallEvents {
  private readonly taskEvents: TaskEvents;
  private readonly fanOutEvents: TaskEvents;
  private readonly redis: Redis;
  private readonly spaces: KeySpaces;
  private readonly ttlSeconds: number;
  private readonly logger: Logger;
  private readonly progressIntervalMs: number;

  constructor(deps: { redis: Redis; spaces: KeySpaces; ttlSeconds: number; logger: Logger; progressIntervalMs?: number }) {
    this.taskEvents = new TaskEvents(deps);
    this.fanOutEvents = new TaskEvents({ ...deps, ttlSeconds: FAN_OUT_EVENTS_TTL_SECONDS });
    this.redis = deps.redis;
    this.spaces = deps.spaces;
    this.ttlSeconds = deps.ttlSeconds;
    this.logger = deps.logger;
    this.progressIntervalMs = deps.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  }

  forCall(data: ToolCallJobData, jobId: string, workerId: string): CallEventSink | undefined {
    if (data.turn === undefined && data.events !== true) return undefined;
    const { taskId, toolCallId, name } = data;
    const [events, ttlSeconds] = data.turn === undefined ? [this.fanOutEvents, FAN_OUT_EVENTS_TTL_SECONDS] : [this.taskEvents, this.ttlSeconds];
    const base = { turn: data.turn ?? null, tool_call_id: toolCallId, name };
    const send = (event: TaskEventName, fields: TaskEventFields) => events.append(taskId, event, fields);
    const quietly = (event: TaskEventName, fields: TaskEventFields) => {
      send(event, fields).catch((error: unknown) => this.logger.warn({ err: error, taskId, toolCallId, event }, 'task event not appended'));
    };
    let lastProgressAt = 0;
    let pending: { value: unknown } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const sendProgress = () => {
      timer && clearTimeout(timer);
      timer = undefined;
      if (!pending) return;
      const { value } = pending;
      pending = undefined;
      lastProgressAt = Date.now();
      quietly('tool_call.progress', { ...base, ...progressFields(value) });
    };
    return {
      waitingLock: async () => {
        // One flag per call in a hash per task: a call that parks again is still the same wait.
        const key = taskLockWaitsKey(this.spaces.of(taskId), taskId);
        const [[, fresh] = []] = ((await this.redis.multi().hsetnx(key, jobId, '1').expire(key, ttlSeconds).exec()) ?? []) as Array<[unknown, unknown]>;
        if (fresh === 1) await send('tool_call.waiting_lock', base);
      },
      started: (attempt) => quietly('tool_call.started', { ...base, attempt, worker_id: workerId }),
      progress: (value) => {
        if (done) return;
        pending = { value };
        const wait = lastProgressAt + this.progressIntervalMs - Date.now();
        if (wait <= 0) sendProgress();
        else timer ??= setTimeout(sendProgress, wait);
      },
      finished: async (result) => {
        sendProgress();
        done = true;
        await send('tool_call.finished', {
          ...base,
          status: result.ok ? 'succeeded' : 'failed',
          error_code: result.ok ? null : result.error.code,
          ms: result.started_at !== null && result.finished_at !== null ? result.finished_at - result.started_at : null,
          attempts: result.attempts,
          worker_id: result.worker_id,
          ...(result.lock_wait_ms === undefined ? {} : { lock_wait_ms: result.lock_wait_ms }),
        });
      },
    };
  }
}

function progressFields(value: unknown): Record<string, unknown> {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return { value: null, unserializable: true };
  }
  if (json === undefined) return { value: null };
  if (json.length > MAX_PROGRESS_BYTES) return { value: null, truncated: true, bytes: json.length };
  return { value };
}
