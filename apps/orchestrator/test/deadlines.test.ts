import { waitFor } from '@volley/shared/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { ask, assistant, call, callsFromQuestion as respond, mark } from './support/scripted-calls.ts';

const touch = (label: string, key: string, ms: number) => ({ label, claims: [{ key, mode: 'write' }], ms });

/** Lines of one resource, whatever scope the worker gave its key. */
async function lineLengths(redis: Redis, resource: string): Promise<number[]> {
  const keys = await redis.keys(`volley:lock:q:*${resource}`);
  return Promise.all(keys.map((key) => redis.zcard(key)));
}

async function jobsLeft(redis: Redis): Promise<Record<string, Record<string, number>>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const name of ['tools-default', 'turns']) {
    const queue = new Queue(name, { connection: redis, prefix: 'volley' });
    counts[name] = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  }
  return counts;
}

const NOTHING_LEFT = { waiting: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0 };

describe('deadlines bind while calls wait', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: { VOLLEY_WORKER_CONCURRENCY: '2' },
      respond,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when a POST /v1/tool-calls call is still in a lock line at timeout_ms', () => {
    it('answers at timeout_ms with the finished results kept and lock_timeout for the waiting call, leaving nothing behind', async () => {
      const holder = cluster.api.post('/v1/tool-calls', { message: assistant(call('hold', 'touch', touch('dl-hold', 'dl:K', 2_500))) });
      await waitFor(async () => (await lineLengths(redis, 'dl:K')).some((length) => length === 1));

      const startedAt = Date.now();
      const { status, body } = await cluster.api.post('/v1/tool-calls', {
        timeout_ms: 1_000,
        message: assistant(call('quick', 'nap', { ms: 50 }), call('blocked', 'touch', touch('dl-blocked', 'dl:K', 10))),
      });
      const tookMs = Date.now() - startedAt;
      expect(status).toBe(200);
      expect(tookMs).toBeGreaterThanOrEqual(1_000);
      expect(tookMs).toBeLessThan(1_800);
      expect(body.messages.map((m: any) => m.tool_call_id)).toEqual(['quick', 'blocked']);
      expect(body.calls[0]).toMatchObject({ id: 'quick', status: 'succeeded' });
      expect(body.calls[1]).toMatchObject({ id: 'blocked', status: 'failed', error: { code: 'lock_timeout' } });
      expect(JSON.parse(body.messages[1].content).error.code).toBe('lock_timeout');

      // Its ticket left the line at once: only the holder stands in it.
      await waitFor(async () => (await lineLengths(redis, 'dl:K')).reduce((a, b) => a + b, 0) === 1, { timeoutMs: 2_000 });
      expect((await holder).body.calls[0].status).toBe('succeeded');
      await waitFor(async () => (await lineLengths(redis, 'dl:K')).length === 0, { message: 'the lock line stayed' });
      await waitFor(async () => JSON.stringify(await jobsLeft(redis)) === JSON.stringify({ 'tools-default': NOTHING_LEFT, turns: NOTHING_LEFT }), {
        message: 'jobs were left behind',
      });
    });
  });

  describe('when a POST /v1/tool-calls call is still queued at timeout_ms', () => {
    it('answers it tool_timeout at timeout_ms and removes its job, so it never runs', async () => {
      // Every slot (2 workers × 2) busy for 2.5 s: the call waits in the queue.
      const busy = cluster.api.post('/v1/tool-calls', {
        message: assistant(...[1, 2, 3, 4].map((n) => call(`busy${n}`, 'mark', { label: `dl-busy-${n}`, ms: 2_500 }))),
      });
      await waitFor(async () => (await Promise.all([1, 2, 3, 4].map((n) => redis.llen(`test:marks:dl-busy-${n}`)))).every((n) => n > 0));

      const startedAt = Date.now();
      const { body } = await cluster.api.post('/v1/tool-calls', {
        timeout_ms: 800,
        message: assistant(call('queued', 'mark', { label: 'dl-queued', ms: 10 })),
      });
      expect(Date.now() - startedAt).toBeLessThan(1_600);
      expect(body.calls[0]).toMatchObject({ id: 'queued', status: 'failed', error: { code: 'tool_timeout' } });

      await busy;
      await waitFor(async () => JSON.stringify(await jobsLeft(redis)) === JSON.stringify({ 'tools-default': NOTHING_LEFT, turns: NOTHING_LEFT }), {
        message: 'jobs were left behind',
      });
      // The slots came free after its deadline: it was not run then either.
      expect(await redis.llen('test:marks:dl-queued')).toBe(0);
    });
  });

  describe('when a task has timeout_ms', () => {
    it('ends failed with task_timeout at its deadline, its running call aborted and nothing more asked of the model', async () => {
      const before = cluster.model.load.received;
      const startedAt = Date.now();
      const { status, body } = await cluster.api.post('/v1/tasks', { ...ask([mark('dl-task-long', 5_000)]), timeout_ms: 1_000 });
      expect(status).toBe(202);
      const task = await cluster.api.waitForTask(body.id, 5_000);
      expect(Date.now() - startedAt).toBeLessThan(2_500);
      expect(task.status).toBe('failed');
      expect(task.error.code).toBe('task_timeout');

      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(await redis.llen('test:marks:dl-task-long')).toBe(1);
      expect(await redis.llen('test:done:dl-task-long')).toBe(0);
      expect(cluster.model.load.received - before).toBe(1);
      expect((await cluster.api.get(`/v1/tasks/${body.id}`)).body.status).toBe('failed');
      await waitFor(async () => JSON.stringify(await jobsLeft(redis)) === JSON.stringify({ 'tools-default': NOTHING_LEFT, turns: NOTHING_LEFT }), {
        message: 'jobs were left behind',
      });
    });

    it('takes its deadline job back when it finishes first', async () => {
      const { body } = await cluster.api.post('/v1/tasks', { ...ask([mark('dl-task-quick', 10)]), timeout_ms: 60_000 });
      expect((await cluster.api.waitForTask(body.id)).status).toBe('completed');
      const turns = new Queue('turns', { connection: redis, prefix: 'volley' });
      expect(await turns.getJob(`${body.id}-deadline`)).toBeUndefined();
    });

    it('refuses a timeout_ms that is not a positive integer', async () => {
      const { status, body } = await cluster.api.post('/v1/tasks', { ...ask([]), timeout_ms: 0 });
      expect(status).toBe(400);
      expect(body.error.code).toBe('invalid_request');
    });
  });
});
