import { parallelCallsThenAnswer } from '@volley/scripted-model';
import { parsePrometheusText, sampleValue, samplesOf, spawnNode, waitFor, type NodeProcess, type PrometheusSample } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, WORKER_MAIN, type Cluster } from './support/cluster.ts';
import { TERMINAL_STATUSES } from '../src/tasks/task-record.ts';
import { assistant, call } from './support/scripted-calls.ts';

const CALLS_PER_ANSWER = 5;
const NAP_MS = 400;

async function scrape(url: string): Promise<PrometheusSample[]> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

/** The sum of a sample over several scrapes (one per worker), 0 where it is absent. */
function total(scrapes: PrometheusSample[][], name: string, labels: Record<string, string>): number {
  return scrapes.flatMap((samples) => samplesOf(samples, name, labels)).reduce((sum, sample) => sum + sample.value, 0);
}

describe('metrics', () => {
  let cluster: Cluster;
  const metricsPort = (worker: NodeProcess) => worker.lines.find((line) => line.msg === 'worker ready')?.metricsPort as number;
  const workerUrl = (worker: NodeProcess, path = '/metrics') => `http://127.0.0.1:${metricsPort(worker)}${path}`;
  const scrapeWorkers = () => Promise.all(cluster.workers.map((worker) => scrape(workerUrl(worker))));
  const scrapeOrchestrator = () => scrape(`${cluster.api.baseUrl}/metrics`);

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      // Two slots in all, so an answer with five calls leaves three waiting for one.
      workerEnv: { VOLLEY_WORKER_CONCURRENCY: '1' },
      respond: parallelCallsThenAnswer({
        calls: Array.from({ length: CALLS_PER_ANSWER }, (_, i) => ({ id: `nap_${i}`, name: 'nap', arguments: { ms: NAP_MS, label: `nap-${i}` } })),
      }),
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('a tool worker', () => {
    it('logs the port it took, and answers /healthz and /readyz on it', async () => {
      for (const worker of cluster.workers) {
        expect(metricsPort(worker)).toBeGreaterThan(0);
        const health = await fetch(workerUrl(worker, '/healthz'));
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: 'ok' });
        expect((await fetch(workerUrl(worker, '/readyz'))).status).toBe(200);
      }
      expect(new Set(cluster.workers.map(metricsPort)).size).toBe(cluster.workers.length);
    });

    it('exits 1 naming VOLLEY_METRICS_PORT when that port is taken', async () => {
      const taken = String(metricsPort(cluster.workers[0]!));
      const child = await spawnNode({
        name: 'port-taken',
        script: WORKER_MAIN,
        env: { REDIS_URL: cluster.redis.url, VOLLEY_METRICS_PORT: taken, VOLLEY_METRICS_HOST: '127.0.0.1' },
      });

      expect(await child.exited).toEqual({ code: 1, signal: null });
      expect(child.stderr()).toContain(`cannot serve metrics on VOLLEY_METRICS_PORT ${taken}`);
    });
  });

  describe('the orchestrator, before any work', () => {
    it('exports each pool of the registry: its queue by state, its workers and slots, and idle slots as a negative deficit', async () => {
      const samples = await scrapeOrchestrator();

      for (const state of ['waiting', 'active', 'delayed', 'prioritized']) {
        expect(sampleValue(samples, 'volley_queue_jobs', { pool: 'default', state })).toBe(0);
      }
      expect(sampleValue(samples, 'volley_pool_workers', { pool: 'default' })).toBe(2);
      expect(sampleValue(samples, 'volley_pool_slots', { pool: 'default' })).toBe(2);
      expect(sampleValue(samples, 'volley_pool_backlog', { pool: 'default' })).toBe(0);
      expect(sampleValue(samples, 'volley_pool_slot_deficit', { pool: 'default' })).toBe(-2);
      expect(sampleValue(samples, 'volley_turn_queue_jobs', { state: 'waiting_children' })).toBe(0);
    });
  });

  describe('when a task asks for more calls than the pool has slots', () => {
    it('shows a positive slot deficit while calls wait, none after; counts the answer, its tokens and the task', async () => {
      const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'nap five times' }] });
      let peakDeficit = -Infinity;
      let peakWaiting = 0;
      let task: any;
      while (!task) {
        const samples = await scrapeOrchestrator();
        peakDeficit = Math.max(peakDeficit, sampleValue(samples, 'volley_pool_slot_deficit', { pool: 'default' }) ?? -Infinity);
        peakWaiting = Math.max(peakWaiting, sampleValue(samples, 'volley_queue_jobs', { pool: 'default', state: 'waiting' }) ?? 0);
        const { body: current } = await cluster.api.get(`/v1/tasks/${body.id}`);
        if (TERMINAL_STATUSES.has(current.status)) task = current;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(task.status).toBe('completed');
      // 5 calls on 2 slots: up to 3 wait, so up to 3 more slots were wanted.
      expect(peakDeficit).toBeGreaterThan(0);
      expect(peakDeficit).toBeLessThanOrEqual(CALLS_PER_ANSWER - 2);
      expect(peakWaiting).toBeGreaterThan(0);

      const after = await scrapeOrchestrator();
      expect(sampleValue(after, 'volley_pool_slot_deficit', { pool: 'default' })).toBeLessThanOrEqual(0);
      expect(sampleValue(after, 'volley_pool_backlog', { pool: 'default' })).toBe(0);

      const model = { model: 'scripted' };
      // Two answers: the five calls, then the final answer with none.
      expect(sampleValue(after, 'volley_model_answer_tool_calls_count', model)).toBe(2);
      expect(sampleValue(after, 'volley_model_answer_tool_calls_sum', model)).toBe(CALLS_PER_ANSWER);
      expect(sampleValue(after, 'volley_model_answer_tool_calls_bucket', { ...model, le: '0' })).toBe(1);
      expect(sampleValue(after, 'volley_model_answer_tool_calls_bucket', { ...model, le: '4' })).toBe(1);
      expect(sampleValue(after, 'volley_model_answer_tool_calls_bucket', { ...model, le: '5' })).toBe(2);
      expect(sampleValue(after, 'volley_llm_request_duration_seconds_count', { ...model, status: 'ok' })).toBe(2);
      expect(sampleValue(after, 'volley_llm_tokens_total', { ...model, type: 'prompt' })).toBe(task.usage.prompt_tokens);
      expect(sampleValue(after, 'volley_llm_tokens_total', { ...model, type: 'completion' })).toBe(task.usage.completion_tokens);
      expect(task.usage.prompt_tokens).toBeGreaterThan(0);
      expect(sampleValue(after, 'volley_tasks_created_total')).toBe(1);
      expect(sampleValue(after, 'volley_tasks_finished_total', { status: 'completed' })).toBe(1);
      expect(sampleValue(after, 'volley_http_request_duration_seconds_count', { method: 'POST', route: '/v1/tasks', status_code: '202' })).toBe(1);

      // The workers timed the five calls; those past the two slots waited a nap or two in the queue.
      const workers = await scrapeWorkers();
      const nap = { tool: 'nap', status: 'ok' };
      expect(total(workers, 'volley_tool_calls_total', { ...nap, error_code: 'none' })).toBe(CALLS_PER_ANSWER);
      expect(total(workers, 'volley_tool_call_run_seconds_count', nap)).toBe(CALLS_PER_ANSWER);
      expect(total(workers, 'volley_tool_call_run_seconds_sum', nap)).toBeGreaterThanOrEqual((CALLS_PER_ANSWER * NAP_MS * 0.9) / 1000);
      expect(total(workers, 'volley_tool_call_queue_wait_seconds_count', nap)).toBe(CALLS_PER_ANSWER);
      const waitedBriefly = total(workers, 'volley_tool_call_queue_wait_seconds_bucket', { ...nap, le: '0.25' });
      expect(waitedBriefly).toBeLessThanOrEqual(2);
      expect(total(workers, 'volley_tool_call_queue_wait_seconds_sum', nap)).toBeGreaterThanOrEqual((4 * NAP_MS * 0.9) / 1000);
    });
  });

  describe('when a fan-out has failing and locking calls', () => {
    it('times each call in the worker that ran it, by tool and status, with lock waits for the locking ones', async () => {
      const before = await scrapeWorkers();
      const { status, body } = await cluster.api.post('/v1/tool-calls', {
        message: assistant(
          call('a', 'nap', { ms: 20 }),
          call('b', 'explode', {}),
          call('c', 'ledger_append', { account: 'metrics-1', amount: 5 }),
          call('d', 'ledger_append', { account: 'metrics-1', amount: 7 }),
        ),
      });
      expect(status).toBe(200);
      expect(body.calls.map((c: any) => c.status)).toEqual(['succeeded', 'failed', 'succeeded', 'succeeded']);

      const after = await waitFor(async () => {
        const scrapes = await scrapeWorkers();
        return total(scrapes, 'volley_tool_calls_total', {}) - total(before, 'volley_tool_calls_total', {}) === 4 ? scrapes : undefined;
      });
      const delta = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);
      expect(delta('volley_tool_calls_total', { tool: 'nap', status: 'ok', error_code: 'none' })).toBe(1);
      expect(delta('volley_tool_calls_total', { tool: 'explode', status: 'error', error_code: 'tool_error' })).toBe(1);
      expect(delta('volley_tool_call_run_seconds_count', { tool: 'explode', status: 'error' })).toBe(1);
      const ledger = { tool: 'ledger_append', status: 'ok' };
      expect(delta('volley_tool_calls_total', { ...ledger, error_code: 'none' })).toBe(2);
      expect(delta('volley_tool_call_lock_wait_seconds_count', ledger)).toBe(2);
      expect(delta('volley_tool_call_lock_wait_seconds_count', { tool: 'nap' })).toBe(0);
    });
  });
});
