import { fileURLToPath } from 'node:url';
import { parallelCallsThenAnswer } from '@volley/scripted-model';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { assistant, call, firstEntry } from './support/scripted-calls.ts';

const IO_TOOLS = fileURLToPath(new URL('./fixtures/io-pool-tools.ts', import.meta.url));
const CPU_TOOLS = fileURLToPath(new URL('./fixtures/cpu-pool-tools.ts', import.meta.url));

describe('worker pools', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 0, workerEnv: { VOLLEY_BUILTIN_TOOLS: 'false' } });
    await Promise.all([
      cluster.addWorker('io-1', { VOLLEY_POOL: 'io', VOLLEY_TOOL_MODULES: IO_TOOLS, VOLLEY_WORKER_CONCURRENCY: '32' }),
      cluster.addWorker('io-2', { VOLLEY_POOL: 'io', VOLLEY_TOOL_MODULES: IO_TOOLS, VOLLEY_WORKER_CONCURRENCY: '32' }),
      cluster.addWorker('cpu-1', { VOLLEY_POOL: 'cpu', VOLLEY_TOOL_MODULES: CPU_TOOLS, VOLLEY_WORKER_CONCURRENCY: '1' }),
    ]);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('lists each tool with the pool that serves it', async () => {
    const { body } = await cluster.api.get('/v1/tools');
    const pools = Object.fromEntries(body.tools.map((tool: any) => [tool.function.name, [tool.pool, tool.workers]]));
    expect(pools).toEqual({ io_wait: ['io', 2], cpu_hash: ['cpu', 1] });
  });

  it('routes every call to a worker of its own pool, each pool on its own queue', async () => {
    const calls = [
      ...Array.from({ length: 6 }, (_, i) => call(`io_${i}`, 'io_wait', { ms: 100 })),
      ...Array.from({ length: 3 }, (_, i) => call(`cpu_${i}`, 'cpu_hash', { text: `t${i}`, rounds: 2_000 })),
    ];
    const { status, body } = await cluster.api.post('/v1/tool-calls', { message: assistant(...calls) });
    expect(status).toBe(200);
    for (const [index, result] of body.calls.entries()) {
      const pool = index < 6 ? 'io' : 'cpu';
      expect(result.pool).toBe(pool);
      expect(result.worker_id).toMatch(pool === 'io' ? /^io-[12]$/ : /^cpu-1$/);
      expect(JSON.parse(body.messages[index].content).pool).toBe(pool);
    }
    // The cpu pool has one slot: its calls ran one after another, while io calls overlapped.
    const cpu = body.calls.slice(6);
    expect(cpu[1].started_at).toBeGreaterThanOrEqual(cpu[0].finished_at);
    expect(cpu[2].started_at).toBeGreaterThanOrEqual(cpu[1].finished_at);
    const io = body.calls.slice(0, 6);
    expect(Math.max(...io.map((c: any) => c.started_at))).toBeLessThan(Math.min(...io.map((c: any) => c.finished_at)));
  });
});

describe('graceful shutdown', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: { VOLLEY_SHUTDOWN_TIMEOUT_MS: '3000', VOLLEY_JOB_LOCK_MS: '2000', VOLLEY_STALLED_INTERVAL_MS: '1000' },
      respond: parallelCallsThenAnswer({ calls: [{ id: 'long', name: 'mark', arguments: { label: 'drain', ms: 1_500 } }] }),
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('lets a worker finish its running call on SIGTERM, then leave the registry', async () => {
    const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'drain me' }] });
    const started = await firstEntry<{ worker: string }>(redis, 'test:marks:drain');
    const worker = cluster.workers.find((w) => w.name === started.worker)!;
    const exit = await worker.stop('SIGTERM', 10_000);
    expect(exit.code).toBe(0);
    // It exited only after the call was done, and the call ran once.
    const done = await redis.lrange('test:done:drain', 0, -1);
    expect(done).toHaveLength(1);
    expect(worker.lines.some((line) => line.msg === 'worker stopped')).toBe(true);

    const task = await cluster.api.waitForTask(body.id);
    expect(task.status).toBe('completed');
    expect(task.turns[0].tool_calls[0]).toMatchObject({ status: 'succeeded', attempts: 1, worker_id: started.worker });
    const tools = (await cluster.api.get('/v1/tools')).body.tools;
    expect(tools.find((t: any) => t.function.name === 'mark').workers).toBe(1);
  });

  it('gives up on a call that outlives the deadline; the call then runs again elsewhere', async () => {
    await cluster.addWorker('worker-3');
    const pending = cluster.api.post('/v1/tool-calls', { message: assistant(call('slow', 'mark', { label: 'too-slow', ms: 5_000 })), timeout_ms: 60_000 });
    const started = await firstEntry<{ worker: string }>(redis, 'test:marks:too-slow');
    const worker = cluster.workers.find((w) => w.name === started.worker)!;
    const stopping = Date.now();
    const exit = await worker.stop('SIGTERM', 10_000);
    expect(exit.code).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(4_500);
    expect(worker.lines.some((line) => line.msg === 'running calls did not finish in time; forcing close')).toBe(true);

    const { body } = await pending;
    expect(body.calls[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(body.calls[0].worker_id).not.toBe(started.worker);
  });
});
