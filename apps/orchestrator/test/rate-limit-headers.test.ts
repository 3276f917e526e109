import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger, createRedis } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSecurity, TASK_CREATING_ROUTES } from '../src/auth/security.ts';
import { TaskRateLimit } from '../src/auth/task-rate-limit.ts';
import { sseResponses } from '../src/http/sse-response.ts';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

const user = (content: string) => ({ messages: [{ role: 'user', content }] });

/** The three headers as numbers; undefined when a header is absent. */
function rateHeaders(headers: Headers) {
  const value = (name: string) => (headers.has(name) ? Number(headers.get(name)) : undefined);
  return { limit: value('x-ratelimit-limit'), remaining: value('x-ratelimit-remaining'), reset: value('x-ratelimit-reset') };
}

describe('rate-limit headers', () => {
  describe('on task submissions through a real orchestrator, 3 a minute per tenant', () => {
    const acmeKey = `vk_${randomBytes(24).toString('hex')}`;
    const globexKey = `vk_${randomBytes(24).toString('hex')}`;
    let cluster: Cluster;
    let acme: Api;
    let globex: Api;

    beforeAll(async () => {
      cluster = await startCluster({
        workers: 1,
        orchestratorEnv: { VOLLEY_TASK_RATE_LIMIT: '3', VOLLEY_API_KEYS: `${acmeKey}:acme,${globexKey}:globex` },
      });
      acme = cluster.api.withHeaders({ authorization: `Bearer ${acmeKey}` });
      globex = cluster.api.withHeaders({ authorization: `Bearer ${globexKey}` });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('counts down on every answer the limit counted, accepted or not, then carries them on the 429', async () => {
      // 3 a minute: a token every 20 s, so the bucket is full again 20 s per token taken.
      const first = await acme.exchange('POST', '/v1/tasks', user('one'));
      expect(first.status).toBe(202);
      expect(rateHeaders(first.headers)).toEqual({ limit: 3, remaining: 2, reset: expect.any(Number) });
      expect(rateHeaders(first.headers).reset).toBeGreaterThan(18);
      expect(rateHeaders(first.headers).reset).toBeLessThanOrEqual(20);

      // A body refused after the limit took its token counted too, and says so.
      const invalid = await acme.exchange('POST', '/v1/tasks', { messages: 'not a list' });
      expect(invalid.status).toBe(400);
      expect(rateHeaders(invalid.headers)).toMatchObject({ limit: 3, remaining: 1 });
      expect(rateHeaders(invalid.headers).reset).toBeGreaterThan(38);
      expect(rateHeaders(invalid.headers).reset).toBeLessThanOrEqual(40);

      const replayed = await acme.exchange('POST', '/v1/tasks', user('two'), undefined, { 'idempotency-key': 'headers-1' });
      expect(replayed.status).toBe(202);
      expect(rateHeaders(replayed.headers)).toMatchObject({ limit: 3, remaining: 0 });
      expect(rateHeaders(replayed.headers).reset).toBeGreaterThan(58);
      expect(rateHeaders(replayed.headers).reset).toBeLessThanOrEqual(60);

      const refused = await acme.exchange('POST', '/v1/tasks', user('three'));
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('rate_limited');
      const limited = rateHeaders(refused.headers);
      expect(limited).toMatchObject({ limit: 3, remaining: 0 });
      // Reset is when all 3 are back; retry-after when the first one is.
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(15);
      expect(retryAfter).toBeLessThanOrEqual(20);
      expect(limited.reset).toBeGreaterThan(55);
      expect(limited.reset).toBeLessThanOrEqual(60);
      expect(limited.reset).toBeGreaterThan(retryAfter);

      // Another tenant's bucket is its own.
      expect(rateHeaders((await globex.exchange('POST', '/v1/tasks', user('globex'))).headers)).toMatchObject({ limit: 3, remaining: 2 });
      // The replay did not run again, and the accepted task runs: only submission is limited.
      expect((await acme.exchange('POST', '/v1/tasks', user('two'), undefined, { 'idempotency-key': 'headers-1' })).status).toBe(429);
      expect(await acme.waitForTask(first.body.id)).toMatchObject({ status: 'completed', tenant: 'acme' });
    });

    it('leaves them off routes the limit does not count', async () => {
      const answers = await Promise.all([
        acme.exchange('GET', '/v1/tasks'),
        acme.exchange('GET', '/v1/tools'),
        acme.exchange('POST', '/v1/tool-calls', { message: assistant(call('a', 'nap', { ms: 1 })) }),
        cluster.api.exchange('GET', '/healthz'),
        // Not a route (yet): no route, no token, no headers.
        acme.exchange('POST', '/v1/chat/completions-not-here', user('x')),
      ]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 404]);
      for (const answer of answers) expect(rateHeaders(answer.headers)).toEqual({ limit: undefined, remaining: undefined, reset: undefined });
    });
  });

  describe('on every task-creating route in TASK_CREATING_ROUTES', () => {
    let redis: TestRedis;
    let connection: Redis;
    let app: FastifyInstance;

    beforeAll(async () => {
      redis = await startRedis();
      connection = createRedis(redis.url);
      const taskRateLimit = new TaskRateLimit({ redis: connection, prefix: `rl-${randomUUID()}`, perMinute: TASK_CREATING_ROUTES.length });
      app = Fastify();
      registerSecurity(app, { keyring: null, tenantTools: new Map(), taskRateLimit, dashboardTenants: null }, createLogger('test', 'silent'));
      // Stand-ins for the doors that create tasks; the real ones are registered by buildApp. The
      // chat completion streams (as with `stream: true`): a stream carries the headers too.
      const openSse = sseResponses(app);
      for (const url of [...TASK_CREATING_ROUTES, '/v1/not-task-creating']) {
        if (url !== '/v1/chat/completions') app.post(url, async () => ({ ok: true }));
        else
          app.post(url, async (_request, reply) => {
            const sse = openSse(reply, { heartbeatMs: 60_000 });
            await sse.send('data: [DONE]\n\n');
            sse.end();
          });
      }
      await app.ready();
    });

    afterAll(async () => {
      await app?.close();
      connection?.disconnect();
      await redis?.stop();
    });

    it('lists the OpenAI doors, which each make a task', () => {
      expect(TASK_CREATING_ROUTES).toEqual(expect.arrayContaining(['/v1/tasks', '/v1/chat/completions', '/v1/responses']));
    });

    it('draws every one of them from the caller’s one bucket, and no other route', async () => {
      const limit = TASK_CREATING_ROUTES.length;
      const remaining: Array<string | undefined> = [];
      for (const url of [...TASK_CREATING_ROUTES, '/v1/not-task-creating']) {
        const response = await app.inject({ method: 'POST', url, payload: {} });
        expect(response.statusCode).toBe(200);
        remaining.push(response.headers['x-ratelimit-remaining'] as string | undefined);
      }
      expect(remaining).toEqual([...TASK_CREATING_ROUTES.map((_, index) => String(limit - 1 - index)), undefined]);
      for (const url of TASK_CREATING_ROUTES) {
        const refused = await app.inject({ method: 'POST', url, payload: {} });
        expect(refused.statusCode).toBe(429);
        expect(refused.headers).toMatchObject({ 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': '0' });
      }
      expect((await app.inject({ method: 'POST', url: '/v1/not-task-creating', payload: {} })).statusCode).toBe(200);
    });
  });
});
