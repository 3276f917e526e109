import { listKnownPools, registerWorker, toolQueueName } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPoolStates } from '../src/metrics/pool-state.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('readPoolStates, against real BullMQ queues', () => {
  let server: TestRedis;
  let redis: Redis;
  const queues = new Map<string, Queue>();
  const closers: Array<() => Promise<unknown>> = [];
  const prefix = `pools-${Date.now()}`;
  const queueOf = (pool: string) => {
    if (!queues.has(pool)) queues.set(pool, new Queue(toolQueueName(pool), { connection: redis, prefix }));
    return queues.get(pool)!;
  };
  const register = async (id: string, pool: string, concurrency: number) => {
    const document = { id, pool, queue: toolQueueName(pool), concurrency, started_at: Date.now(), tools: [] };
    const registration = await registerWorker(redis, prefix, document, { leaseMs: 60_000, onError: () => undefined });
    closers.push(() => registration.stop());
    return registration;
  };

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
  });

  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await Promise.all([...queues.values()].map((queue) => queue.close()));
    await redis?.quit();
    await server?.stop();
  });

  it('counts each state, the due delayed jobs and the live slots, and derives the deficit', async () => {
    await register('io-1', 'io', 2);
    await register('io-2', 'io', 3);
    await register('cpu-1', 'cpu', 1);
    const io = queueOf('io');
    // One call running: taken by hand, as a worker would.
    await io.add('call', {});
    const takerConnection = redis.duplicate();
    const taker = new Worker(toolQueueName('io'), null, { connection: takerConnection, prefix });
    closers.push(() => taker.close().then(() => takerConnection.quit()));
    expect(await taker.getNextJob('token-1')).toBeDefined();
    for (let i = 0; i < 4; i += 1) await io.add('call', {});
    for (let i = 0; i < 2; i += 1) await io.add('call', {}, { priority: 1 });
    await io.add('call', {}, { delay: 20 }); // due in a moment: a retry whose backoff ran out
    await io.add('call', {}, { delay: 60_000 }); // parked until a lock frees, or backing off
    await sleep(60);

    const states = await readPoolStates({ redis, prefix, queuesOf: (pool) => [queueOf(pool)] });

    expect(states.map((state) => state.pool)).toEqual(['cpu', 'io']);
    const [cpu, ioState] = states;
    expect(ioState).toEqual({
      pool: 'io',
      jobs: { waiting: 4, active: 1, delayed: 2, prioritized: 2 },
      readyDelayed: 1,
      workers: 2,
      signal: { backlog: 8, slots: 5, deficit: 3 },
    });
    expect(cpu).toMatchObject({ workers: 1, signal: { backlog: 0, slots: 1, deficit: -1 } });
  });

  it('keeps a pool whose workers are gone while its queue holds calls, and forgets it once empty', async () => {
    const orphan = await register('orphan-1', 'orphan', 4);
    await queueOf('orphan').add('call', {});
    await orphan.stop();

    const withBacklog = await readPoolStates({ redis, prefix, queuesOf: (pool) => [queueOf(pool)] });
    expect(withBacklog.find((state) => state.pool === 'orphan')).toMatchObject({
      workers: 0,
      jobs: { waiting: 1 },
      signal: { backlog: 1, slots: 0, deficit: 1 },
    });

    await queueOf('orphan').drain();
    const drained = await readPoolStates({ redis, prefix, queuesOf: (pool) => [queueOf(pool)] });

    expect(drained.map((state) => state.pool)).not.toContain('orphan');
    expect(await listKnownPools(redis, prefix)).not.toContain('orphan');
  });
});
