import type { FastifyInstance } from 'fastify';
import { runToolCalls, toolCallsBodySchema, type RunToolCallsDeps } from '../fan-out/run-tool-calls.ts';
import { bodyFingerprint, idempotencyKeyOf, idempotencyRecordKey, REPLAYED_HEADER } from '../idempotency/idempotency-key.ts';
import { IdempotencyRecords } from '../idempotency/idempotency-records.ts';
import { runToolCallsOnce } from '../idempotency/run-tool-calls-once.ts';

export function registerToolCallRoutes(app: FastifyInstance, deps: RunToolCallsDeps): void {
  const records = new IdempotencyRecords(deps.redis);
  app.post('/v1/tool-calls', async (request, reply) => {
    const key = idempotencyKeyOf(request.headers);
    const body = toolCallsBodySchema.parse(request.body);
    const run = (beforeEnqueue?: () => void) =>
      runToolCalls(deps, body, request.traceContext, request.caller.tools, request.caller.tenant, beforeEnqueue);
    if (key === undefined) return run();
    const { answer, replayed } = await runToolCallsOnce(
      { records, logger: deps.logger },
      {
        key: idempotencyRecordKey(deps.fanOut.prefix, 'tool-calls', request.caller.tenant, key),
        fingerprint: bodyFingerprint(request.body),
        timeoutMs: body.timeout_ms ?? deps.limits.defaultTimeoutMs,
        run,
      },
    );
    if (replayed) void reply.header(REPLAYED_HEADER, 'true');
    return answer;
  });
}
