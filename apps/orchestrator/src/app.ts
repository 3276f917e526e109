import { errorBody, type Logger, type Metrics } from '@volley/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { registerSecurity, type Security } from './auth/security.ts';
import type { RunToolCallsDeps } from './fan-out/run-tool-calls.ts';
import { createErrorHandler } from './http/error-handler.ts';
import { QUEUE_DASHBOARD_PATH, registerQueueDashboard } from './http/queue-dashboard.ts';
import { traceRequests } from './http/trace-requests.ts';
import { measureRequests } from './metrics/http-metrics.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
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
    /** When given: `GET /metrics`, and every request timed. */
    metrics?: Metrics;
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
  if (deps.metrics) measureRequests(app, deps.metrics);
  registerSecurity(app, deps.security, deps.logger, { basicAuthUnder: QUEUE_DASHBOARD_PATH });
  app.setErrorHandler(createErrorHandler(deps.logger));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('route_not_found', `no route ${request.method} ${request.url}`)),
  );
  registerHealthRoutes(app, deps);
  if (deps.metrics) registerMetricsRoute(app, deps.metrics);
  registerToolRoutes(app, deps);
  registerTaskRoutes(app, deps);
  registerToolCallRoutes(app, deps);
  registerQueueDashboard(app, deps);
  return app;
}
