import { Metrics } from '@volley/shared';
import { parsePrometheusText, sampleValue } from '@volley/shared/testing';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { measureRequests } from './http-metrics.ts';
import { instrumentModelClient } from './instrument-model-client.ts';
import { registerQueueMetrics } from './queue-metrics.ts';
import { countTasks } from './task-metrics.ts';
import { registerMetricsRoute } from '../routes/metrics.ts';
import { useZodSchemas } from '../http/schema-compilers.ts';

/** Every metric the orchestrator exports (the process_* / nodejs_* defaults aside). */
function orchestratorMetrics(): Metrics {
  const metrics = new Metrics({ processMetrics: false });
  // Nothing connects: the queue collectors run only at a scrape, which these tests do not do.
  const redis = new Redis({ lazyConnect: true });
  registerQueueMetrics(metrics, { redis, prefix: 'volley', queuesOf: () => [], turns: [] });
  instrumentModelClient({ complete: async () => Promise.reject(new Error('unused')) }, metrics);
  countTasks(metrics);
  measureRequests(Fastify(), metrics);
  return metrics;
}

describe('the orchestrator metric catalog', () => {
  it('names every metric volley_…, lower_snake, with lower_snake labels', async () => {
    const catalog = await orchestratorMetrics().registry.getMetricsAsJSON();

    expect(catalog.map((metric) => [metric.name, metric.type]).sort()).toEqual(
      [
        ['volley_http_request_duration_seconds', 'histogram'],
        ['volley_llm_request_duration_seconds', 'histogram'],
        ['volley_llm_tokens_total', 'counter'],
        ['volley_metrics_collect_errors_total', 'counter'],
        ['volley_model_answer_tool_calls', 'histogram'],
        ['volley_pool_backlog', 'gauge'],
        ['volley_pool_ready_delayed_jobs', 'gauge'],
        ['volley_pool_slot_deficit', 'gauge'],
        ['volley_pool_slots', 'gauge'],
        ['volley_pool_workers', 'gauge'],
        ['volley_queue_jobs', 'gauge'],
        ['volley_tasks_created_total', 'counter'],
        ['volley_tasks_finished_total', 'counter'],
        ['volley_turn_queue_jobs', 'gauge'],
      ].sort(),
    );
  });

  describe('countTasks', () => {
    it('counts creations, and endings by status; running is no ending', async () => {
      const metrics = new Metrics({ processMetrics: false });
      const transition = countTasks(metrics);

      for (const status of ['queued', 'queued', 'running', 'completed', 'failed', 'queued', 'cancelled', 'completed'] as const) transition(status);
      const samples = parsePrometheusText((await metrics.render()).body);

      expect(sampleValue(samples, 'volley_tasks_created_total')).toBe(3);
      expect(sampleValue(samples, 'volley_tasks_finished_total', { status: 'completed' })).toBe(2);
      expect(sampleValue(samples, 'volley_tasks_finished_total', { status: 'failed' })).toBe(1);
      expect(sampleValue(samples, 'volley_tasks_finished_total', { status: 'cancelled' })).toBe(1);
      expect(sampleValue(samples, 'volley_tasks_finished_total', { status: 'running' })).toBeUndefined();
    });
  });

  describe('measureRequests and GET /metrics', () => {
    it('times requests by route pattern and status, and serves the text format', async () => {
      const metrics = new Metrics({ processMetrics: false });
      const app = Fastify();
      useZodSchemas(app, pino({ level: 'silent' }));
      measureRequests(app, metrics);
      registerMetricsRoute(app, metrics);
      app.get('/v1/tasks/:id', async () => ({ ok: true }));

      await app.inject({ method: 'GET', url: '/v1/tasks/abc' });
      await app.inject({ method: 'GET', url: '/v1/tasks/def' });
      await app.inject({ method: 'GET', url: '/nowhere' });
      const response = await app.inject({ method: 'GET', url: '/metrics' });
      const samples = parsePrometheusText(response.body);

      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const route = { method: 'GET', route: '/v1/tasks/:id', status_code: '200' };
      expect(sampleValue(samples, 'volley_http_request_duration_seconds_count', route)).toBe(2);
      expect(sampleValue(samples, 'volley_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' })).toBe(1);
      await app.close();
    });
  });
});
