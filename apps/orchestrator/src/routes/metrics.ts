import type { Metrics } from '@volley/shared';
import type { FastifyInstance } from 'fastify';

/** `GET /metrics`: Prometheus text, outside API-key auth like the probes (see `PUBLIC_ROUTES`). */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.header('content-type', contentType).send(body);
  });
}
