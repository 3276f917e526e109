import { errorBody, withTimeout } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';

const READY_TIMEOUT_MS = 1_000;

export function registerHealthRoutes(app: FastifyInstance, deps: { redis: Redis }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await withTimeout(deps.redis.ping(), READY_TIMEOUT_MS);
      return { status: 'ready' };
    } catch (error) {
      return reply.status(503).send(errorBody('redis_unavailable', `Redis is not reachable: ${(error as Error).message}`));
    }
  });
}
