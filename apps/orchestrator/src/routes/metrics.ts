import type { Metrics } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../http/error-responses.ts';
import { contentResponse } from '../http/page-responses.ts';

/** `GET /metrics`: Prometheus text, outside API-key auth like the probes (see `PUBLIC_ROUTES`). */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        response: { 200: contentResponse('text/plain', 'The Prometheus text format'), ...errorResponses({}, { auth: false, gate: false }) },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.header('content-type', contentType).send(body);
    },
  );
}
