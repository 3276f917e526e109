import { errorBody, type Logger, type Metrics, type TaskEvents } from '@volley/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import packageJson from '../package.json' with { type: 'json' };
import { PUBLIC_ROUTES, registerSecurity, type Security } from './auth/security.ts';
import type { RunToolCallsDeps } from './fan-out/run-tool-calls.ts';
import { limitBodiesInFlight } from './http/bodies-in-flight.ts';
import { DOCS_ROUTES, registerApiDocs } from './http/api-docs.ts';
import { answerClientError, answerFrameworkError } from './http/edge-errors.ts';
import { createErrorHandler } from './http/error-handler.ts';
import { parseJsonBodies } from './http/json-body-parser.ts';
import { QUEUE_DASHBOARD_PATH, registerQueueDashboard } from './http/queue-dashboard.ts';
import { registerRedisGate, type RedisGate } from './http/redis-gate.ts';
import { useZodSchemas } from './http/schema-compilers.ts';
import { traceRequests } from './http/trace-requests.ts';
import { measureRequests } from './metrics/http-metrics.ts';
import { ClientCallHistory } from './openai/client-call-history.ts';
import { answerErrorsInOpenAIShape } from './openai/openai-error-shape.ts';
import { registerApprovalRoutes } from './routes/approvals.ts';
import { registerChatCompletionRoutes } from './routes/chat-completions.ts';
import { registerResponsesRoutes } from './routes/responses.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerMcpRoutes } from './routes/mcp.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerTaskListRoutes } from './routes/task-list.ts';
import { registerTaskRoutes } from './routes/tasks.ts';
import { registerToolCallRoutes } from './routes/tool-calls.ts';
import { registerToolRoutes } from './routes/tools.ts';
import type { CreateTaskDeps } from './tasks/create-task.ts';
import type { EventStreamDeps } from './events/event-streams.ts';
import { registerTaskEventRoutes } from './routes/task-events.ts';
import { registerUiRoutes, UI_ROUTES } from './routes/ui.ts';

export type AppDeps = CreateTaskDeps &
  RunToolCallsDeps & {
    /**
     * The connection of request handling, whose commands time out (see `createRequestRedis`);
     * `store`, `catalog` and `fanOut` must be built on it too. Never the engine's connection.
     */
    redis: Redis;
    /** Refuses requests while Redis is known not to answer (see `RedisGate`). */
    redisGate: RedisGate;
    logger: Logger;
    bodyLimitBytes: number;
    /** Request bodies held at once at most, in bytes (see `limitBodiesInFlight`). */
    bodyBytesInFlight: number;
    /** Deepest nesting of a JSON body (see `parseJsonBodies`). */
    maxBodyDepth: number;
    /** API keys, tenants' tools and the submission rate limit (see `createSecurity`). */
    security: Security;
    /** Where a cancel's `task.status`/`task.finished` go (request handling's connection). */
    events?: TaskEvents;
    /** The blocking readers of `GET /v1/tasks/:id/events` and `?wait_ms=`. */
    eventStreams: EventStreamDeps;
    /** When given: `GET /metrics`, and every request timed. */
    metrics?: Metrics;
  };

/** The HTTP app without listening: `main.ts` listens, tests may `inject`. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    // Per-request lines would drown the task events at info; Fastify's own warnings still show.
    loggerInstance: deps.logger.child({}, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    // What Node's HTTP parser and Fastify's router refuse, too, answers in Volley's error shape.
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
  // The API speaks JSON only: other bodies get 415 instead of a confusing shape error.
  app.removeContentTypeParser('text/plain');
  parseJsonBodies(app, { maxDepth: deps.maxBodyDepth });
  traceRequests(app);
  if (deps.metrics) measureRequests(app, deps.metrics);
  // Ahead of authentication and the rate limit, which asks Redis: while it does not answer,
  // requests are refused before anything waits on it (the probes are let through).
  registerRedisGate(app, deps.redisGate);
  const publicRoutes = [...UI_ROUTES, ...DOCS_ROUTES];
  registerSecurity(app, deps.security, deps.logger, { basicAuthUnder: QUEUE_DASHBOARD_PATH, publicRoutes });
  limitBodiesInFlight(app, { maxBytes: deps.bodyBytesInFlight, bodyLimitBytes: deps.bodyLimitBytes });
  app.setErrorHandler(createErrorHandler(deps.logger, deps.redisGate));
  app.setNotFoundHandler((request, reply) => reply.status(404).send(errorBody('route_not_found', `no route ${request.method} ${request.url}`)));
  useZodSchemas(app, deps.logger);
  registerApiDocs(app, { publicRoutes: new Set([...PUBLIC_ROUTES, ...publicRoutes]), version: packageJson.version });
  // In a plugin, so that they are added once the document's plugin listens for routes.
  void app.register(async (api) => {
    registerHealthRoutes(api, deps);
    if (deps.metrics) registerMetricsRoute(api, deps.metrics);
    registerToolRoutes(api, deps);
    registerTaskRoutes(api, deps);
    registerTaskListRoutes(api, deps);
    registerTaskEventRoutes(api, { ...deps.eventStreams, store: deps.store });
    registerToolCallRoutes(api, deps);
    registerApprovalRoutes(api, deps);
    const history = new ClientCallHistory({ redis: deps.redis, store: deps.store, prefix: deps.fanOut.spaces.home });
    await api.register(async (openAI) => {
      answerErrorsInOpenAIShape(openAI);
      registerChatCompletionRoutes(openAI, { ...deps, history });
      registerResponsesRoutes(openAI, { ...deps, history });
    });
    registerMcpRoutes(api, deps);
    registerQueueDashboard(api, deps);
    registerUiRoutes(api);
  });
  return app;
}
