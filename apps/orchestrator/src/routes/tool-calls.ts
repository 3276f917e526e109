import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EventStreamDeps } from '../events/event-streams.ts';
import {
  newFanOutId,
  runToolCalls,
  toolCallsAnswerSchema,
  toolCallsBodySchema,
  type RunToolCallsDeps,
  type RunToolCallsOptions,
} from '../fan-out/run-tool-calls.ts';
import { errorResponses } from '../http/error-responses.ts';
import { sseResponses } from '../http/sse-response.ts';
import { idempotencyHeadersSchema, idempotencyRecordKey, REPLAYED_HEADER, takeIdempotencyKeys } from '../idempotency/idempotency-key.ts';
import { IdempotencyRecords } from '../idempotency/idempotency-records.ts';
import { runToolCallsOnce } from '../idempotency/run-tool-calls-once.ts';
import { TOOL_CALLS_ANSWER_EXAMPLE, TOOL_CALLS_EXAMPLE, TOOL_CALLS_STREAM_EXAMPLE } from './examples.ts';
import { cancelWhenClientLeaves } from './cancel-when-client-leaves.ts';
import { answerAsEventStream } from './tool-calls-stream.ts';

export function registerToolCallRoutes(app: FastifyInstance, deps: RunToolCallsDeps & { eventStreams: EventStreamDeps }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const records = new IdempotencyRecords(deps.redis);
  const openSse = sseResponses(app);
  api.post(
    '/v1/tool-calls',
    {
      // `stream` only says how the answer travels: a retry may ask for it either way.
      preValidation: takeIdempotencyKeys(app, ['stream']),
      schema: {
        tags: ['tool-calls'],
        operationId: 'runToolCalls',
        summary: "Run one assistant message's tool calls",
        description:
          'Fans the calls out across the workers and answers their tool messages, in `tool_calls` order, once all are back or at `timeout_ms`. ' +
          'A call that cannot run (unknown tool, bad arguments, a tool that throws or times out) is an error message; the others go on. ' +
          'With an `Idempotency-Key`, a duplicate never fans out again: it gets the first answer (`idempotent-replayed: true`). ' +
          "With `stream: true` the answer is Server-Sent Events: the calls' `tool_call.*` events as they happen (as on a task's event stream, `turn` null), " +
          'then `tool_calls.completed`, whose data is the JSON answer. Either way, a client that goes away before its answer cancels the calls, unless it sent an `Idempotency-Key`.',
        headers: idempotencyHeadersSchema,
        body: toolCallsBodySchema.meta({ examples: [TOOL_CALLS_EXAMPLE] }),
        response: {
          200: {
            description: "The tool messages and how each call ran; with `stream: true`, the calls' events and then that answer",
            content: {
              'application/json': { schema: toolCallsAnswerSchema.meta({ examples: [TOOL_CALLS_ANSWER_EXAMPLE] }) },
              'text/event-stream': { schema: z.string().meta({ examples: [TOOL_CALLS_STREAM_EXAMPLE] }) },
            },
          },
          ...errorResponses(
            {
              400: ['no_tool_calls', 'too_many_tool_calls', 'duplicate_tool_call_id', 'invalid_idempotency_key'],
              409: ['idempotency_key_in_use'],
              422: ['idempotency_key_reused'],
            },
            { body: true },
          ),
        },
      },
    },
    async (request, reply) => {
      const { stream, ...body } = request.body;
      const { idempotency } = request;
      const fanOutId = newFanOutId();
      // Streamed or not, a client gone before its answer cancels the calls (nobody is left to read
      // it), unless it sent an Idempotency-Key: the key says it comes back for the answer.
      const stopWatching = idempotency === undefined ? cancelWhenClientLeaves(deps, reply.raw, fanOutId) : () => undefined;
      // Once per Idempotency-Key when the request has one: a replay answers without running.
      const runOnce = async (options: Omit<RunToolCallsOptions, 'fanOutId'>, beforeEnqueue: () => void, onWaiting?: () => void) => {
        const run = (enqueuing: () => void) =>
          runToolCalls(deps, body, request.traceContext, request.caller.tools, request.caller.tenant, enqueuing, { ...options, fanOutId });
        if (idempotency === undefined) return { answer: await run(beforeEnqueue), replayed: false };
        return runToolCallsOnce(
          { records, logger: deps.logger },
          {
            key: idempotencyRecordKey(deps.fanOut.spaces.home, 'tool-calls', request.caller.tenant, idempotency.key),
            fingerprint: idempotency.fingerprint,
            timeoutMs: body.timeout_ms ?? deps.limits.defaultTimeoutMs,
            run: (claimed) =>
              run(() => {
                claimed();
                beforeEnqueue();
              }),
            ...(onWaiting ? { onWaiting } : {}),
          },
        );
      };
      const answered = (options: Omit<RunToolCallsOptions, 'fanOutId'>, beforeEnqueue: () => void, onWaiting?: () => void) =>
        runOnce(options, beforeEnqueue, onWaiting).finally(stopWatching);
      if (stream) {
        return answerAsEventStream(deps, reply, openSse, fanOutId, (beforeEnqueue, waiting) => answered({ events: true }, beforeEnqueue, waiting));
      }
      const { answer, replayed } = await answered({}, () => undefined);
      if (replayed) void reply.header(REPLAYED_HEADER, 'true');
      return answer;
    },
  );
}
