import { withTimeout } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { errorResponses } from '../http/error-responses.ts';
import { replyRedisUnavailable, type RedisGate } from '../http/redis-gate.ts';

const READY_TIMEOUT_MS = 1_000;

export function registerHealthRoutes(app: FastifyInstance, deps: { redis: Redis; redisGate: RedisGate }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getHealth',
        summary: 'Liveness: the process answers',
        response: {
          200: z
            .object({ status: z.literal('ok') })
            .describe('Alive')
            .meta({ examples: [{ status: 'ok' }] }),
          ...errorResponses({}, { auth: false, gate: false }),
        },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  api.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getReadiness',
        summary: 'Readiness: Redis answers',
        response: {
          200: z
            .object({ status: z.literal('ready') })
            .describe('Ready')
            .meta({ examples: [{ status: 'ready' }] }),
          ...errorResponses({ 503: ['redis_unavailable'] }, { auth: false, gate: false }),
        },
      },
    },
    async (_request, reply) => {
      // Known down: no new PING to queue behind the unanswered ones (the gate's probe is waiting).
      if (!deps.redisGate.open) {
        return replyRedisUnavailable(reply, `Redis is not reachable: no answer for ${Math.floor(deps.redisGate.unavailableForMs() / 1000)} s`);
      }
      try {
        await withTimeout(deps.redis.ping(), READY_TIMEOUT_MS);
        return { status: 'ready' as const };
      } catch (error) {
        deps.redisGate.markUnavailable(error);
        return replyRedisUnavailable(reply, `Redis is not reachable: ${(error as Error).message}`);
      }
    },
  );
}
