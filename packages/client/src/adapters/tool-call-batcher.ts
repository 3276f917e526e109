import { toolCallsAnswerSchema, type CallRecord, type ToolCallsAnswer } from '@volley/api-schemas';
import type { ToolCallEvent } from '../tool-calls-stream.ts';
import { VolleyApiError } from '../volley-api-error.ts';
import type { VolleyClient } from '../volley-client.ts';

/** One call a framework asks to run, as the model sent it. */
export interface BatchedCall {
  /** The model's `tool_call_id`. */
  id: string;
  name: string;
  /** The arguments as JSON text. */
  arguments: string;
  /** Sent in `approved`: someone approved this call already (the framework's own human in the loop). */
  approved?: boolean | undefined;
  /** Aborts this call's wait; the fan-out itself is aborted once every call in it is. */
  signal?: AbortSignal | undefined;
  /** Told each `ctx.progress(value)` of this call while it runs; a batch holding such a call is streamed. */
  onProgress?: ((value: unknown) => void) | undefined;
}

/** What one call came back as: the tool message the model reads, and the call's record. */
export interface CallOutcome {
  /** The tool message's content: the result's text, or Volley's error text (JSON with `code`, `message`, `hint`). */
  content: string;
  record: CallRecord;
}

export interface ToolCallBatcherOptions {
  /**
   * `timeout_ms` of each fan-out: at this deadline unfinished calls answer `tool_timeout`.
   * @defaultValue the orchestrator's `VOLLEY_TOOL_CALLS_TIMEOUT_MS`
   */
  timeoutMs?: number | undefined;
  /**
   * How long the first call of a batch waits for the others. The frameworks start the calls of
   * one model step within the same burst of microtasks (the AI SDK's `streamText` too, with
   * OpenAI-compatible providers, which hand a step's calls over as the stream ends), which the
   * default catches; a provider that hands each streamed call over as it completes may want a
   * few ms.
   * @defaultValue 0 (the next macrotask)
   */
  batchWindowMs?: number | undefined;
}

interface Waiting {
  call: BatchedCall;
  resolve: (outcome: CallOutcome) => void;
  reject: (error: unknown) => void;
  settled: boolean;
  onAbort: () => void;
}

/**
 * Turns the per-call `execute`s of an agent framework back into the one assistant message they
 * came from: the calls that arrive together under one key (a model step: the AI SDK's step
 * messages, the Agents SDK's run context) go out as one `POST /v1/tool-calls`. One fan-out means
 * one deadline for the step, and resource locks taken in the model's order rather than in the
 * order separate requests happen to reach Redis. A batch holding a call that wants its progress
 * is streamed, and each call is told its own.
 */
export class ToolCallBatcher {
  private readonly client: VolleyClient;
  private readonly pending = new Map<object, Waiting[]>();
  private readonly timeoutMs: number | undefined;
  private readonly windowMs: number;

  constructor(client: VolleyClient, options: ToolCallBatcherOptions = {}) {
    this.client = client;
    if (options.timeoutMs !== undefined && !(Number.isInteger(options.timeoutMs) && options.timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be a positive integer, got ${options.timeoutMs}`);
    }
    if (options.batchWindowMs !== undefined && !(options.batchWindowMs >= 0)) {
      throw new RangeError(`batchWindowMs must be 0 or more, got ${options.batchWindowMs}`);
    }
    this.timeoutMs = options.timeoutMs;
    this.windowMs = options.batchWindowMs ?? 0;
  }

  /** Runs `call` in the fan-out of the calls that reach `step` with it. */
  run(call: BatchedCall, step: object = this): Promise<CallOutcome> {
    return new Promise<CallOutcome>((resolve, reject) => {
      call.signal?.throwIfAborted();
      const waiting: Waiting = { call, resolve, reject, settled: false, onAbort: () => settle(waiting, () => reject(call.signal!.reason)) };
      let batch = this.pending.get(step);
      // The same id twice cannot share a message (the API refuses duplicates): it starts the next one.
      if (batch?.some((other) => other.call.id === call.id)) {
        this.pending.delete(step);
        batch = undefined;
      }
      if (!batch) {
        const started: Waiting[] = [];
        this.pending.set(step, started);
        setTimeout(() => {
          if (this.pending.get(step) === started) this.pending.delete(step);
          void this.send(started);
        }, this.windowMs);
        batch = started;
      }
      batch.push(waiting);
      call.signal?.addEventListener('abort', waiting.onAbort, { once: true });
    });
  }

  private async send(batch: Waiting[]): Promise<void> {
    const live = batch.filter((waiting) => !waiting.settled);
    if (live.length === 0) return;
    const request = new AbortController();
    const abortWhenAllGone = () => {
      if (live.every((waiting) => waiting.settled)) request.abort();
    };
    for (const waiting of live) waiting.call.signal?.addEventListener('abort', abortWhenAllGone, { once: true });
    let answer: ToolCallsAnswer;
    try {
      const approved = live.filter((waiting) => waiting.call.approved).map((waiting) => waiting.call.id);
      const onEvent = live.some((waiting) => waiting.call.onProgress) ? progressTo(live) : undefined;
      const raw = await this.client.toolCalls(
        {
          message: {
            role: 'assistant',
            content: null,
            tool_calls: live.map(({ call }) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })),
          },
          ...(this.timeoutMs === undefined ? {} : { timeout_ms: this.timeoutMs }),
          ...(approved.length > 0 ? { approved } : {}),
        },
        { signal: request.signal, onEvent },
      );
      answer = parseAnswer(raw);
    } catch (error) {
      for (const waiting of live) settle(waiting, () => waiting.reject(error));
      return;
    } finally {
      for (const waiting of live) waiting.call.signal?.removeEventListener('abort', abortWhenAllGone);
    }
    const contents = new Map(answer.messages.map((message) => [message.tool_call_id, message.content]));
    const records = new Map(answer.calls.map((record) => [record.id, record]));
    for (const waiting of live) {
      const content = contents.get(waiting.call.id);
      const record = records.get(waiting.call.id);
      settle(waiting, () =>
        content === undefined || record === undefined
          ? waiting.reject(new VolleyApiError(200, 'invalid_response', `POST /v1/tool-calls: no result for tool call ${waiting.call.id}`))
          : waiting.resolve({ content, record }),
      );
    }
  }
}

/** Each call's progress to that call alone, while it still waits. */
function progressTo(live: Waiting[]): (event: ToolCallEvent) => void {
  const byId = new Map(live.map((waiting) => [waiting.call.id, waiting]));
  return (event) => {
    if (event.event !== 'tool_call.progress') return;
    const waiting = byId.get(String(event.data.tool_call_id));
    if (waiting && !waiting.settled) waiting.call.onProgress?.(event.data.value);
  };
}

function settle(waiting: Waiting, how: () => void): void {
  if (waiting.settled) return;
  waiting.settled = true;
  // A step's signal may outlive many steps: its listeners must not pile up.
  waiting.call.signal?.removeEventListener('abort', waiting.onAbort);
  how();
}

function parseAnswer(raw: unknown): ToolCallsAnswer {
  const parsed = toolCallsAnswerSchema.safeParse(raw);
  if (!parsed.success) throw new VolleyApiError(200, 'invalid_response', `POST /v1/tool-calls: the answer is not a tool-calls answer: ${parsed.error.message}`);
  return parsed.data;
}
