import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { createRedis } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskRateLimit } from '../src/auth/task-rate-limit.ts';

describe('TaskRateLimit (a token bucket in Redis)', () => {
  let redis: TestRedis;
  let first: Redis;
  let second: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    first = createRedis(redis.url);
    second = createRedis(redis.url);
  });

  afterAll(async () => {
    await Promise.allSettled([first?.quit(), second?.quit()]);
    await redis?.stop();
  });

  const limits = (perMinute: number) => {
    const prefix = `rl-${randomUUID()}`;
    // Two instances on two connections: as two orchestrators would be.
    return [new TaskRateLimit({ redis: first, prefix, perMinute }), new TaskRateLimit({ redis: second, prefix, perMinute })] as const;
  };

  describe('when a tenant submits faster than its limit', () => {
    it('lets a full bucket through, across instances, then refuses with the wait until the next token', async () => {
      const [a, b] = limits(6);
      const decisions = [];
      for (let index = 0; index < 7; index += 1) decisions.push(await (index % 2 === 0 ? a : b).take('acme'));
      expect(decisions.slice(0, 6).map((decision) => decision.allowed)).toEqual([true, true, true, true, true, true]);
      expect(decisions.slice(0, 6).map((decision) => (decision.allowed ? decision.remaining : -1))).toEqual([5, 4, 3, 2, 1, 0]);
      const refused = decisions[6]!;
      expect(refused.allowed).toBe(false);
      // 6 a minute: one token every 10 s, and the bucket just ran dry.
      expect(!refused.allowed && refused.retryAfterMs).toBeGreaterThan(9_000);
      expect(!refused.allowed && refused.retryAfterMs).toBeLessThanOrEqual(10_000);
    });

    it('tells every take the limit and how long until the bucket is full again', async () => {
      const [a] = limits(6);
      const first = await a.take('acme');
      expect(first).toMatchObject({ allowed: true, limit: 6, remaining: 5 });
      // One token out of 6 a minute: full again in 10 s.
      expect(first.resetMs).toBeGreaterThan(9_000);
      expect(first.resetMs).toBeLessThanOrEqual(10_000);
      for (let index = 0; index < 5; index += 1) await a.take('acme');
      const refused = await a.take('acme');
      expect(refused).toMatchObject({ allowed: false, limit: 6, remaining: 0 });
      expect(refused.resetMs).toBeGreaterThan(55_000);
      expect(refused.resetMs).toBeLessThanOrEqual(60_000);
    });

    it('keeps tenants, and the anonymous caller, apart', async () => {
      const [a] = limits(1);
      expect((await a.take('acme')).allowed).toBe(true);
      expect((await a.take('acme')).allowed).toBe(false);
      expect((await a.take('globex')).allowed).toBe(true);
      expect((await a.take(null)).allowed).toBe(true);
      expect((await a.take(null)).allowed).toBe(false);
    });
  });

  describe('when time passes', () => {
    it('refills continuously: a token is back after its share of the minute', async () => {
      const [a] = limits(60); // one token a second
      for (let index = 0; index < 60; index += 1) await a.take('acme');
      const refused = await a.take('acme');
      expect(refused.allowed).toBe(false);
      expect(!refused.allowed && refused.retryAfterMs).toBeLessThanOrEqual(1_000);
      await delay(!refused.allowed ? refused.retryAfterMs + 20 : 0);
      expect((await a.take('acme')).allowed).toBe(true);
    });

    it('leaves no key behind once the bucket would be full again', async () => {
      const prefix = `rl-${randomUUID()}`;
      const limit = new TaskRateLimit({ redis: first, prefix, perMinute: 60_000 }); // full again 1 ms after a take
      await limit.take('acme');
      await delay(50);
      expect(await first.keys(`${prefix}:*`)).toEqual([]);
    });
  });
});
