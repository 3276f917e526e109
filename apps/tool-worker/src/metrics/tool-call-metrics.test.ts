import { setTimeout as delay } from 'node:timers/promises';
import { createLogger, Metrics } from '@volley/shared';
import { defineTool } from '@volley/tools';
import { parsePrometheusText, sampleValue } from '@volley/shared/testing';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createToolCallProcessor } from '../run-tool-call.ts';
import { createToolSet } from '../tool-set.ts';
import { createToolCallMetrics } from './tool-call-metrics.ts';

const tools = createToolSet([
  {
    source: 'test',
    tool: defineTool({
      name: 'nap',
      description: 'sleeps',
      parameters: z.object({ ms: z.number().int() }),
      execute: async ({ ms }) => {
        await delay(ms);
        return 'rested';
      },
    }),
  },
  {
    source: 'test',
    tool: defineTool({
      name: 'explode',
      description: 'throws',
      parameters: z.object({}),
      execute: () => {
        throw new Error('boom');
      },
    }),
  },
]);

/** A tool-call job enqueued `queuedMsAgo` ms ago, as the processor reads it. */
function job(name: string, args: unknown, queuedMsAgo: number): Job {
  return {
    id: `fan-1-${name}`,
    queueName: 'tools-default',
    timestamp: Date.now() - queuedMsAgo,
    data: { taskId: 'task-1', toolCallId: `call_${name}`, name, arguments: JSON.stringify(args) },
    attemptsMade: 0,
    opts: { attempts: 1 },
  } as unknown as Job;
}

function worker() {
  const metrics = new Metrics({ processMetrics: false });
  const process = createToolCallProcessor({
    tools,
    workerId: 'w1',
    defaultTimeoutMs: 5_000,
    maxArgumentDepth: 8,
    maxResultBytes: 1024 * 1024,
    logger: createLogger('test', 'silent'),
    metrics: createToolCallMetrics(metrics),
  });
  return { process, scrape: async () => parsePrometheusText((await metrics.render()).body) };
}

describe('tool-call metrics', () => {
  describe('when a call runs its tool', () => {
    it('records its queue wait and run time under its tool and status ok', async () => {
      const { process, scrape } = worker();

      await process(job('nap', { ms: 60 }, 300));
      const samples = await scrape();

      const call = { tool: 'nap', status: 'ok' };
      expect(sampleValue(samples, 'volley_tool_calls_total', { ...call, error_code: 'none' })).toBe(1);
      expect(sampleValue(samples, 'volley_tool_call_queue_wait_seconds_count', call)).toBe(1);
      expect(sampleValue(samples, 'volley_tool_call_queue_wait_seconds_sum', call)).toBeGreaterThanOrEqual(0.3);
      expect(sampleValue(samples, 'volley_tool_call_queue_wait_seconds_bucket', { ...call, le: '0.25' })).toBe(0);
      expect(sampleValue(samples, 'volley_tool_call_run_seconds_sum', call)).toBeGreaterThanOrEqual(0.055);
      expect(sampleValue(samples, 'volley_tool_call_run_seconds_bucket', { ...call, le: '0.05' })).toBe(0);
      // No lock was taken: no lock wait to record.
      expect(sampleValue(samples, 'volley_tool_call_lock_wait_seconds_count', call)).toBeUndefined();
    });
  });

  describe('when a call fails', () => {
    it('counts it by error code, with a run time when its tool ran and none when it did not', async () => {
      const { process, scrape } = worker();

      await process(job('explode', {}, 10));
      await process(job('nap', { ms: 'soon' }, 10));
      await process(job('teleport', {}, 10));
      const samples = await scrape();

      expect(sampleValue(samples, 'volley_tool_calls_total', { tool: 'explode', status: 'error', error_code: 'tool_error' })).toBe(1);
      expect(sampleValue(samples, 'volley_tool_call_run_seconds_count', { tool: 'explode', status: 'error' })).toBe(1);
      expect(sampleValue(samples, 'volley_tool_calls_total', { tool: 'nap', status: 'error', error_code: 'arguments_schema_violation' })).toBe(1);
      expect(sampleValue(samples, 'volley_tool_call_run_seconds_count', { tool: 'nap', status: 'error' })).toBeUndefined();
      expect(sampleValue(samples, 'volley_tool_call_queue_wait_seconds_count', { tool: 'nap', status: 'error' })).toBe(1);
      // A name the model made up is not a label value: the series stay bounded by the tool set.
      expect(sampleValue(samples, 'volley_tool_calls_total', { tool: '_unknown', error_code: 'unknown_tool' })).toBe(1);
      expect(samples.some((sample) => sample.labels.tool === 'teleport')).toBe(false);
    });
  });

  it('names its metrics volley_…, lower_snake', async () => {
    const metrics = new Metrics({ processMetrics: false });
    createToolCallMetrics(metrics);

    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => `${metric.name} ${metric.type}`).sort();

    expect(names).toEqual([
      'volley_metrics_collect_errors_total counter',
      'volley_tool_call_lock_wait_seconds histogram',
      'volley_tool_call_queue_wait_seconds histogram',
      'volley_tool_call_run_seconds histogram',
      'volley_tool_calls_total counter',
    ]);
  });
});
