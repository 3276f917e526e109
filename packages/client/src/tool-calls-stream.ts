import { ERROR_STATUS, errorBodySchema, TOOL_CALLS_STREAM_EVENTS, type ToolCallsAnswer, type ToolCallsRequest } from '@volley/api-schemas';
import { eventStreamBody, jsonOf, taskEventDataOf, textOf } from './event-stream-body.ts';
import { asNetworkError, type HttpTransport } from './http-transport.ts';
import { SseDecoder, type SseMessage } from './sse-decoder.ts';
import type { TaskEvent } from './task-event-stream.ts';
import { VolleyApiError } from './volley-api-error.ts';

/** One event of a call of a streamed fan-out: the task event stream's names and data (`turn` null). */
export type ToolCallEvent = Omit<TaskEvent, 'id'>;

export interface ToolCallEventsOptions {
  /**
   * Streams the answer (`stream: true`) and is told each event of the calls as it happens:
   * `tool_call.started`, `tool_call.progress` (a tool's `ctx.progress(value)`, as `data.value`),
   * `tool_call.finished`, …; the call still resolves with the answer. What it throws rejects the
   * call, whose connection closes: the calls are cancelled unless an idempotency key was sent.
   */
  onEvent?: ((event: ToolCallEvent) => void) | undefined;
  /**
   * With `onEvent`: a stream that brings nothing, not even a heartbeat comment, for this long is
   * taken as dropped, a `network_error`.
   * @defaultValue 45_000, three of the server's 15 s heartbeats
   */
  idleTimeoutMs?: number | undefined;
}

const WHAT = 'POST /v1/tool-calls';

/**
 * `POST /v1/tool-calls` with `stream: true`: `onEvent` is told each call event as it arrives,
 * and the answer is the data of the stream's `tool_calls.completed`. The stream is not resumed
 * when it drops (a POST is not replayed by itself): that is a `network_error`, and a retry with
 * the same Idempotency-Key gets the answer without running the calls again.
 */
export async function streamedToolCalls(
  transport: HttpTransport,
  body: ToolCallsRequest,
  options: ToolCallEventsOptions & { signal?: AbortSignal | undefined; headers: Record<string, string> },
): Promise<ToolCallsAnswer> {
  const { signal } = options;
  signal?.throwIfAborted();
  const connection = new AbortController();
  const stop = () => connection.abort(signal?.reason);
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const response = await transport.send('POST', 'v1/tool-calls', {
      body: { ...body, stream: true },
      headers: { ...options.headers, accept: 'text/event-stream' },
      signal: connection.signal,
    });
    const messages = messagesOf(eventStreamBody(response, WHAT), connection, options.idleTimeoutMs ?? 45_000, signal);
    for await (const message of messages) {
      const what = `${WHAT}: event ${message.event}`;
      if (message.event === TOOL_CALLS_STREAM_EVENTS.completed) return jsonOf(message.data, what) as ToolCallsAnswer;
      if (message.event === TOOL_CALLS_STREAM_EVENTS.error) throw streamedError(jsonOf(message.data, what));
      options.onEvent?.({ event: message.event, data: taskEventDataOf(message.data, what) });
    }
    throw new VolleyApiError(0, 'network_error', `${WHAT}: the stream ended before its answer`);
  } finally {
    signal?.removeEventListener('abort', stop);
    // Also reached when the answer came: the connection goes with the read.
    connection.abort();
  }
}

/** The stream's events; a read that fails is a `network_error` (what `onEvent` throws stays its own). */
async function* messagesOf(
  body: ReadableStream<Uint8Array>,
  connection: AbortController,
  idleMs: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<SseMessage> {
  const decoder = new SseDecoder();
  try {
    for await (const text of textOf(body, connection, idleMs)) yield* decoder.push(text);
  } catch (error) {
    throw asNetworkError(error, signal, WHAT);
  }
}

/** The failure that ended a stream that had begun: the status its code has in the API's table. */
function streamedError(json: unknown): VolleyApiError {
  const body = errorBodySchema.safeParse(json);
  if (!body.success) return new VolleyApiError(200, 'invalid_response', `${WHAT}: the stream ended with an error that is not an error body`);
  const { code, message } = body.data.error;
  return new VolleyApiError((ERROR_STATUS as Record<string, number>)[code] ?? 500, code, message);
}
