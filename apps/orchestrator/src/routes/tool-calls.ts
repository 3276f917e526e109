import type { FastifyInstance } from 'fastify';
import { runToolCalls, toolCallsBodySchema, type RunToolCallsDeps } from '../fan-out/run-tool-calls.ts';

export function registerToolCallRoutes(app: FastifyInstance, deps: RunToolCallsDeps): void {
  app.post('/v1/tool-calls', async (request) =>
    runToolCalls(deps, toolCallsBodySchema.parse(request.body), request.traceContext, request.caller.tools, request.caller.tenant),
  );
}
