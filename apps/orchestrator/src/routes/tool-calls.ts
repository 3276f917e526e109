import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { runToolCalls, toolCallsAnswerSchema, toolCallsBodySchema, type RunToolCallsDeps } from '../fan-out/run-tool-calls.ts';
import { errorResponses } from '../http/error-responses.ts';
import { idempotencyHeadersSchema, idempotencyRecordKey, REPLAYED_HEADER, takeIdempotencyKeys } from '../idempotency/idempotency-key.ts';
import { IdempotencyRecords } from '../idempotency/idempotency-records.ts';
import { runToolCallsOnce } from '../idempotency/run-tool-calls-once.ts';
import { TOOL_CALLS_ANSWER_EXAMPLE, TOOL_CALLS_EXAMPLE } from './examples.ts';

export function registerToolCallRoutes(app: FastifyInstance, deps: RunToolCallsDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const records = new IdempotencyRecords(deps.redis);
  api.post(
    '/v1/tool-calls',
    {
      preValidation: takeIdempotencyKeys(app),
      schema: {
        tags: ['tool-calls'],
        operationId: 'runToolCalls',
        summary: "Run one assistant message's tool calls",
        description:
          'Fans the calls out across the workers and answers their tool messages, in `tool_calls` order, once all are back or at `timeout_ms`. ' +
          'A call that cannot run (unknown tool, bad arguments, a tool that throws or times out) is an error message; the others go on. ' +
          'With an `Idempotency-Key`, a duplicate never fans out again: it gets the first answer (`idempotent-replayed: true`).',
        headers: idempotencyHeadersSchema,
        body: toolCallsBodySchema.meta({ examples: [TOOL_CALLS_EXAMPLE] }),
        response: {
          200: toolCallsAnswerSchema.describe('The tool messages and how each call ran').meta({ examples: [TOOL_CALLS_ANSWER_EXAMPLE] }),
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
      const body = request.body;
      const run = (beforeEnqueue?: () => void) => runToolCalls(deps, body, request.traceContext, request.caller.tools, request.caller.tenant, beforeEnqueue);
      if (request.idempotency === undefined) return run();
      const { answer, replayed } = await runToolCallsOnce(
        { records, logger: deps.logger },
        {
          key: idempotencyRecordKey(deps.fanOut.spaces.home, 'tool-calls', request.caller.tenant, request.idempotency.key),
          fingerprint: request.idempotency.fingerprint,
          timeoutMs: body.timeout_ms ?? deps.limits.defaultTimeoutMs,
          run,
        },
      );
      if (replayed) void reply.header(REPLAYED_HEADER, 'true');
      return answer;
    },
  );
}
