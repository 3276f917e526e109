import { waitFor } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { ask, assistant, call, callsFromQuestion as respond, firstEntry, mark } from './support/scripted-calls.ts';

// Dead processes are noticed within seconds: job locks of 2 s, stall checks every second.
const FAST_RECOVERY = { VOLLEY_JOB_LOCK_MS: '2000', VOLLEY_STALLED_INTERVAL_MS: '1000' };

describe('faults', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      orchestrators: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: FAST_RECOVERY,
      orchestratorEnv: FAST_RECOVERY,
      redis: { appendOnly: true },
      respond,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when a tool worker is killed mid-call', () => {
    it('hands the call to another worker within seconds and completes the task', async () => {
      const { body } = await cluster.api.post('/v1/tasks', ask([mark('w-kill', 4_000), mark('w-other', 10)]));
      const started = await firstEntry<{ worker: string }>(redis, 'test:marks:w-kill');
      const victim = cluster.workers.find((worker) => worker.name === started.worker)!;
      const killedAt = Date.now();
      await victim.kill();

      const task = await cluster.api.waitForTask(body.id, 30_000);
      expect(task.status).toBe('completed');
      const call = task.turns[0].tool_calls[0];
      expect(call.attempts).toBe(2);
      expect(call.worker_id).not.toBe(started.worker);
      expect(call.started_at - killedAt).toBeLessThan(5_000);
      expect(task.messages.filter((m: any) => m.role === 'tool')).toHaveLength(2);
      await cluster.addWorker(`${started.worker}-again`);
    });
  });

  describe('when an orchestrator is killed while its task runs tools', () => {
    it('lets the other instance gather and finish, with each turn once in the transcript', async () => {
      const { body } = await cluster.api.post('/v1/tasks', ask([mark('o-tools-1', 1_500), mark('o-tools-2', 1_500)]));
      await waitFor(async () => (await redis.llen('test:marks:o-tools-1')) > 0);
      // Kill the instance that ran this task's first step.
      const stepRunner = cluster.orchestrators.find((o) => o.lines.some((l) => l.msg === 'model answer' && l.taskId === body.id))!;
      await stepRunner.kill();
      const survivor = cluster.apis[cluster.orchestrators.indexOf(cluster.orchestrators.find((o) => o !== stepRunner && o.alive())!)]!;

      const task = await survivor.waitForTask(body.id, 30_000);
      expect(task.status).toBe('completed');
      expect(task.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant']);
      expect(task.usage.llm_calls).toBe(2);
      await cluster.addOrchestrator();
    });
  });

  describe('when every orchestrator dies while a model call is in flight', () => {
    it('lets a restarted instance redo the step once, and the transcript shows one answer per turn', async () => {
      cluster.model.setLatency(2_000);
      const live = cluster.apis.filter((_, index) => cluster.orchestrators[index]!.alive());
      const { body } = await live[0]!.post('/v1/tasks', ask([mark('o-llm', 10)]));
      await waitFor(() => cluster.model.load.inFlight > 0);
      await Promise.all(cluster.orchestrators.map((o) => o.kill()));
      cluster.model.setLatency(0);
      const restarted = await cluster.addOrchestrator();

      const task = await restarted.waitForTask(body.id, 30_000);
      expect(task.status).toBe('completed');
      expect(task.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      expect(task.usage.llm_calls).toBe(2);
      expect(await redis.llen('test:marks:o-llm')).toBe(1);
    });
  });

  describe('when Redis restarts while tasks run', () => {
    it('reconnects everything, and every task completes', async () => {
      const api = cluster.apis.at(-1)!;
      const ids = await Promise.all(
        [1, 2, 3, 4].map(async (n) => (await api.post('/v1/tasks', ask([mark(`r-${n}-a`, 1_000), mark(`r-${n}-b`, 1_000)]))).body.id as string),
      );
      await waitFor(async () => (await redis.llen('test:marks:r-4-b')) > 0);
      await cluster.redis.restart!();

      for (const id of ids) {
        const task = await api.waitForTask(id, 40_000);
        expect(task.status).toBe('completed');
        expect(task.messages.filter((m: any) => m.role === 'tool')).toHaveLength(2);
      }
    });
  });
});

describe('model endpoint faults', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 1,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      orchestratorEnv: { VOLLEY_LLM_TIMEOUT_MS: '1000', VOLLEY_LLM_MAX_RETRIES: '2', ...FAST_RECOVERY, VOLLEY_MAX_STALLED_COUNT: '0' },
      respond,
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('retries 5xx and 429 answers with backoff, then goes on', async () => {
    cluster.model.failNext(1, 503);
    cluster.model.failNext(1, 429);
    const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'n', name: 'nap', arguments: { ms: 1 } }]));
    const task = await cluster.api.waitForTask(body.id);
    expect(task.status).toBe('completed');
    expect(cluster.model.load.received).toBe(4);
  });

  it('gives up on a model that never answers in time, with a clear error and no hang', async () => {
    cluster.model.setLatency(5_000);
    const started = Date.now();
    const { body } = await cluster.api.post('/v1/tasks', ask([]));
    const task = await cluster.api.waitForTask(body.id, 15_000);
    cluster.model.setLatency(0);
    expect(task.status).toBe('failed');
    expect(task.error.code).toBe('llm_error');
    expect(task.error.message).toMatch(/timed out|timeout/i);
    // Three tries of 1 s each, plus the SDK's backoff between them.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('retries a tool that says its failure is retryable, with backoff, and reports a final failure as an error message', async () => {
    const started = Date.now();
    const { body } = await cluster.api.post('/v1/tool-calls', {
      message: assistant(call('third-time', 'flaky_read', '{"label":"a","succeed_on":3}'), call('never', 'flaky_read', '{"label":"b","succeed_on":9}')),
    });
    const [lucky, unlucky] = body.calls;
    expect(lucky).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(JSON.parse(body.messages[0].content)).toEqual({ label: 'a', attempt: 3 });
    expect(unlucky).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'upstream_busy' } });
    // Exponential backoff from 250 ms: the third attempt starts ≥ 250 + 500 ms after the first.
    expect(lucky.started_at - started).toBeGreaterThanOrEqual(700);
  });

  // Last in this cluster: it kills the cluster's orchestrator.
  it('ends a task failed with step_failed when its step can never finish, instead of leaving it running', async () => {
    cluster.model.setLatency(3_000);
    // Earlier tests' timed-out model calls may still be in flight: wait for this task's own.
    const before = cluster.model.load.received;
    const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'n', name: 'nap', arguments: { ms: 1 } }]));
    await waitFor(() => cluster.model.load.received > before);
    // The instance running the step dies, and this cluster allows a step no stall at all.
    await cluster.orchestrators[0]!.kill();
    cluster.model.setLatency(0);
    const restarted = await cluster.addOrchestrator();

    const task = await restarted.waitForTask(body.id, 15_000);
    expect(task.status).toBe('failed');
    expect(task.error.code).toBe('step_failed');
    expect(task.error.message).toMatch(/^step 0 of the task failed for good .*stalled more than allowable limit/);
    expect(task.usage.llm_calls).toBe(0);
  });
});
