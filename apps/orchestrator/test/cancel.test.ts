import { waitFor } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { ask, assistant, call, callsFromQuestion as respond, mark } from './support/scripted-calls.ts';

describe('cancelling a task', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    // Two workers with one slot each: two calls run, the third waits for a slot.
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: { VOLLEY_WORKER_CONCURRENCY: '1' },
      respond,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('aborts running calls, removes waiting ones, and runs nothing of the task afterwards', async () => {
    const requestsBefore = cluster.model.load.received;
    const { body } = await cluster.api.post('/v1/tasks', ask([mark('c1-run-a', 10_000), mark('c1-run-b', 10_000), mark('c1-waiting', 10)]));
    await waitFor(async () => (await redis.llen('test:marks:c1-run-a')) > 0 && (await redis.llen('test:marks:c1-run-b')) > 0);

    const cancelledAt = Date.now();
    const cancel = await cluster.api.post(`/v1/tasks/${body.id}/cancel`, {});
    expect(cancel).toEqual({ status: 200, body: { id: body.id, status: 'cancelled' } });

    // The slots come free at once: a new fan-out runs on both workers right away.
    const probe = await cluster.api.post('/v1/tool-calls', {
      message: assistant(...[1, 2].map((n) => call(`p${n}`, 'nap', '{"ms":50}'))),
    });
    expect(probe.status).toBe(200);
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);

    await new Promise((resolve) => setTimeout(resolve, 500));
    const task = (await cluster.api.get(`/v1/tasks/${body.id}`)).body;
    expect(task.status).toBe('cancelled');
    expect(await redis.llen('test:marks:c1-waiting')).toBe(0);
    expect(await redis.llen('test:done:c1-run-a')).toBe(0);
    expect(await redis.llen('test:done:c1-run-b')).toBe(0);
    expect(cluster.model.load.received - requestsBefore).toBe(1);
    expect(task.messages.filter((m: any) => m.role === 'assistant')).toHaveLength(1);
  });

  it('lets a call parked behind a lock leave the line at once', async () => {
    const { body } = await cluster.api.post(
      '/v1/tasks',
      ask([
        { id: 'holder', name: 'touch', arguments: { claims: [{ key: 'cancel:L', mode: 'write' }], ms: 10_000, label: 'holder' } },
        { id: 'parked', name: 'touch', arguments: { claims: [{ key: 'cancel:L', mode: 'write' }], ms: 10, label: 'parked' } },
      ]),
    );
    await waitFor(async () => (await redis.hlen('volley:lock:h:cancel:L')) === 1);
    await cluster.api.post(`/v1/tasks/${body.id}/cancel`, {});
    // The parked call leaves at once; the holder's body ignores its signal, so it keeps the key while it runs.
    await waitFor(async () => (await redis.zcard('volley:lock:q:cancel:L')) === 1, { timeoutMs: 3_000, message: 'the parked call did not leave the line' });
    expect(await redis.hlen('volley:lock:h:cancel:L')).toBe(1);
  });

  it('leaves a finished task as it is, and answers 404 for an unknown one', async () => {
    const { body } = await cluster.api.post('/v1/tasks', ask([mark('c3-quick', 1)]));
    const done = await cluster.api.waitForTask(body.id);
    expect(done.status).toBe('completed');
    expect((await cluster.api.post(`/v1/tasks/${body.id}/cancel`, {})).body).toEqual({ id: body.id, status: 'completed' });
    const missing = await cluster.api.post('/v1/tasks/nope/cancel', {});
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });
});
