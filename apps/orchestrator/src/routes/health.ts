import { withTimeout } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { replyRedisUnavailable, type RedisGate } from '../http/redis-gate.ts';

const READY_TIMEOUT_MS = 1_000;

export function registerHealthRoutes(app: FastifyInstance, deps: { redis: Redis; redisGate: RedisGate }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    // Known down: no new PING to queue behind the unanswered ones (the gate's probe is waiting).
    if (!deps.redisGate.open) {
      return replyRedisUnavailable(reply, `Redis is not reachable: no answer for ${Math.floor(deps.redisGate.unavailableForMs() / 1000)} s`);
    }
    try {
      await withTimeout(deps.redis.ping(), READY_TIMEOUT_MS);
      return { status: 'ready' };
    } catch (error) {
      deps.redisGate.markUnavailable(error);
      return replyRedisUnavailable(reply, `Redis is not reachable: ${(error as Error).message}`);
    }
  });
}
