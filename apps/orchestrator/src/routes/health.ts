import { errorBody } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';

const READY_TIMEOUT_MS = 1_000;

export function registerHealthRoutes(app: FastifyInstance, deps: { redis: Redis }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS).unref(),
    );
    try {
      await Promise.race([deps.redis.ping(), timeout]);
      return { status: 'ready' };
    } catch (error) {
      return reply.status(503).send(errorBody('redis_unavailable', `Redis is not reachable: ${(error as Error).message}`));
    }
  });
}
