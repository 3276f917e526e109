import { errorBody, type Logger } from '@volley/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { registerSecurity, type Security } from './auth/security.ts';
import type { RunToolCallsDeps } from './fan-out/run-tool-calls.ts';
import { createErrorHandler } from './http/error-handler.ts';
import { traceRequests } from './http/trace-requests.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerTaskRoutes } from './routes/tasks.ts';
import { registerToolCallRoutes } from './routes/tool-calls.ts';
import { registerToolRoutes } from './routes/tools.ts';
import type { CreateTaskDeps } from './tasks/create-task.ts';

export type AppDeps = CreateTaskDeps &
  RunToolCallsDeps & {
    redis: Redis;
    logger: Logger;
    bodyLimitBytes: number;
    /** API keys, tenants' tools and the submission rate limit (see `createSecurity`). */
    security: Security;
  };

/** The HTTP app without listening: `main.ts` listens, tests may `inject`. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    // Per-request lines would drown the task events at info; Fastify's own warnings still show.
    loggerInstance: deps.logger.child({}, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
  });
  // The API speaks JSON only: other bodies get 415 instead of a confusing shape error.
  app.removeContentTypeParser('text/plain');
  traceRequests(app);
  registerSecurity(app, deps.security, deps.logger);
  app.setErrorHandler(createErrorHandler(deps.logger));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('route_not_found', `no route ${request.method} ${request.url}`)),
  );
  registerHealthRoutes(app, deps);
  registerToolRoutes(app, deps);
  registerTaskRoutes(app, deps);
  registerToolCallRoutes(app, deps);
  return app;
}
