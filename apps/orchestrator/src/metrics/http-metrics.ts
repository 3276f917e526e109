import type { Metrics } from '@volley/shared';
import type { FastifyInstance } from 'fastify';

const HTTP_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Times every request by method, route pattern (`/v1/tasks/:id`; `unmatched` for a 404) and status code. */
export function measureRequests(app: FastifyInstance, metrics: Metrics): void {
  const duration = metrics.histogram(
    'volley_http_request_duration_seconds',
    'HTTP requests to the orchestrator by method, route and status code.',
    ['method', 'route', 'status_code'],
    HTTP_BUCKETS_S,
  );
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
