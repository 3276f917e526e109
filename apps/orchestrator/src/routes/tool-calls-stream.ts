import { errorBody, TOOL_CALLS_STREAM_EVENTS, toolCallsAnswerSchema, type ErrorBody, type ToolCallsAnswer } from '@volley/api-schemas';
import { VolleyError } from '@volley/shared';
import type { FastifyReply } from 'fastify';
import type { EventStreamDeps } from '../events/event-streams.ts';
import { followFanOutEvents, type FanOutEventsFollower } from '../events/follow-fan-out-events.ts';
import type { RunToolCallsDeps } from '../fan-out/run-tool-calls.ts';
import { isRedisUnavailable } from '../http/redis-unavailable.ts';
import { encodeAnswer } from '../http/schema-compilers.ts';
import type { SseResponse, sseResponses } from '../http/sse-response.ts';
import { REPLAYED_HEADER } from '../idempotency/idempotency-key.ts';

export type ToolCallsStreamDeps = Pick<RunToolCallsDeps, 'fanOut' | 'redis' | 'logger'> & { eventStreams: EventStreamDeps };

/**
 * Runs the fan-out with its calls' events on; calls `beforeEnqueue` just before they go on the
 * queues, or `waiting` when it is a replay that waits for the answer of a first request still running.
 */
export type StreamedRun = (beforeEnqueue: () => void, waiting: () => void) => Promise<{ answer: ToolCallsAnswer; replayed: boolean }>;

/**
 * `POST /v1/tool-calls` with `stream: true`. The event stream opens when the calls are about to
 * be enqueued, so a request refused before (a 400, a 409 of its Idempotency-Key) is answered as
 * JSON with its status. From then on the calls' events are passed on as they come, then the
 * answer as `tool_calls.completed`, exactly the JSON the request would have answered. (A client
 * that goes away cancels the fan-out as in JSON mode: see the route.)
 */
export async function answerAsEventStream(
  deps: ToolCallsStreamDeps,
  reply: FastifyReply,
  openSse: ReturnType<typeof sseResponses>,
  /** The id `run` gives the fan-out, whose event stream is followed. */
  fanOutId: string,
  run: StreamedRun,
): Promise<void> {
  const open = (headers: Record<string, string> = {}) => openSse(reply, { heartbeatMs: deps.eventStreams.heartbeatMs, headers });
  // Set by the run's callback, which control flow analysis does not follow.
  let sse = undefined as SseResponse | undefined;
  let events = undefined as FanOutEventsFollower | undefined;
  const finishEvents = () => events?.finish().catch((error: unknown) => deps.logger.warn({ err: error, fanOut: fanOutId }, 'tool-call events did not finish'));

  let outcome: Awaited<ReturnType<StreamedRun>>;
  try {
    outcome = await run(
      () => {
        const opened = open();
        sse = opened;
        void opened.send(': tool-call events\n\n');
        events = followFanOutEvents(deps, fanOutId, (entry) => opened.send(sseEvent(entry.event, entry.data)));
      },
      // Opened now, its heartbeats keep proxies from cutting a replay that waits up to the first's timeout_ms.
      () => {
        sse ??= open({ [REPLAYED_HEADER]: 'true' });
      },
    );
  } catch (error) {
    if (!sse) throw error;
    await finishEvents();
    deps.logger.warn({ err: error, fanOut: fanOutId }, 'streamed tool calls failed');
    await sse.send(sseEvent(TOOL_CALLS_STREAM_EVENTS.error, JSON.stringify(streamedErrorBody(error))));
    sse.end();
    return;
  }
  // No call became a job (each was refused), or the answer is a replay: nothing ran here to stream.
  const answering = sse ?? open(outcome.replayed ? { [REPLAYED_HEADER]: 'true' } : {});
  await finishEvents();
  const answer = encodeAnswer(toolCallsAnswerSchema, outcome.answer, deps.logger, { method: 'POST', url: '/v1/tool-calls', status: '200' });
  await answering.send(sseEvent(TOOL_CALLS_STREAM_EVENTS.completed, answer));
  answering.end();
}

function sseEvent(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

/** What the JSON error answer would have said; a failure of ours says no more than its code. */
function streamedErrorBody(error: unknown): ErrorBody {
  if (isRedisUnavailable(error)) return errorBody('redis_unavailable', 'Redis did not answer in time; retry shortly');
  if (VolleyError.isInstance(error)) return errorBody(error.code, error.message);
  return errorBody('internal_error', 'internal error');
}
