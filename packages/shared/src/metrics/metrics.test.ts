import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../testing/prometheus-text.ts';
import { limitLabelValues, OTHER_LABEL_VALUE } from './label-limit.ts';
import { checkNames, Metrics } from './metrics.ts';

describe('Metrics', () => {
  describe('when a metric is named', () => {
    it.each([
      ['counter', 'volley_tool_calls_total', ['tool', 'error_code']],
      ['gauge', 'volley_pool_slot_deficit', ['pool']],
      ['histogram', 'volley_tool_call_run_seconds', ['tool', 'status']],
      ['histogram', 'volley_model_answer_tool_calls', []],
    ] as const)('accepts the %s %s', (kind, name, labels) => {
      expect(() => checkNames(kind, name, labels)).not.toThrow();
    });

    it.each([
      ['gauge', 'pool_backlog', [], /volley_ then lower_snake_case/],
      ['gauge', 'volley_poolBacklog', [], /lower_snake_case/],
      ['gauge', 'volley__backlog', [], /lower_snake_case/],
      ['counter', 'volley_tool_calls', [], /end in _total/],
      ['gauge', 'volley_tasks_total', [], /only counters end in _total/],
      ['gauge', 'volley_pool_backlog', ['Pool'], /label "Pool"/],
      ['gauge', 'volley_pool_backlog', ['error-code'], /label "error-code"/],
      ['histogram', 'volley_run_seconds', ['le'], /label "le"/],
    ] as const)('refuses the %s %s', (kind, name, labels, problem) => {
      expect(() => checkNames(kind, name, labels)).toThrow(problem);
    });

    it('refuses a bad name at construction, before anything is exported', () => {
      const metrics = new Metrics({ processMetrics: false });
      expect(() => metrics.counter('volley_calls', 'calls')).toThrow(/end in _total/);
    });
  });

  describe('when rendered', () => {
    it('answers the Prometheus text format with every metric and its labels', async () => {
      const metrics = new Metrics({ processMetrics: false });
      metrics.counter('volley_things_total', 'things', ['kind']).inc({ kind: 'a' }, 3);
      metrics.histogram('volley_wait_seconds', 'waits', ['tool'], [0.1, 1]).observe({ tool: 'nap' }, 0.5);

      const { contentType, body } = await metrics.render();
      const samples = parsePrometheusText(body);

      expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(body).toContain('# TYPE volley_things_total counter');
      expect(sampleValue(samples, 'volley_things_total', { kind: 'a' })).toBe(3);
      expect(sampleValue(samples, 'volley_wait_seconds_bucket', { tool: 'nap', le: '0.1' })).toBe(0);
      expect(sampleValue(samples, 'volley_wait_seconds_bucket', { tool: 'nap', le: '1' })).toBe(1);
      expect(sampleValue(samples, 'volley_wait_seconds_count', { tool: 'nap' })).toBe(1);
    });

    it("adds Node's process metrics under their standard names by default", async () => {
      const samples = parsePrometheusText((await new Metrics().render()).body);
      expect(samples.some((sample) => sample.name === 'process_cpu_user_seconds_total')).toBe(true);
      expect(samples.some((sample) => sample.name.startsWith('nodejs_'))).toBe(true);
    });

    it('runs the collectors first, so gauges read at scrape time are current', async () => {
      const metrics = new Metrics({ processMetrics: false });
      const depth = metrics.gauge('volley_depth', 'depth');
      let reads = 0;
      metrics.collectOnScrape('depth', async () => depth.set(++reads * 10));

      await metrics.render();
      const samples = parsePrometheusText((await metrics.render()).body);

      expect(sampleValue(samples, 'volley_depth')).toBe(20);
    });
  });

  describe('when a collector fails or hangs', () => {
    it('still answers with the rest, counts the failure and reports it', async () => {
      const reported: string[] = [];
      const metrics = new Metrics({ processMetrics: false, collectTimeoutMs: 50, onCollectError: (name) => reported.push(name) });
      metrics.gauge('volley_fine', 'fine').set(1);
      metrics.collectOnScrape('broken', async () => {
        throw new Error('redis is down');
      });
      metrics.collectOnScrape('stuck', () => new Promise(() => undefined));

      const started = Date.now();
      const samples = parsePrometheusText((await metrics.render()).body);

      expect(Date.now() - started).toBeLessThan(1_000);
      expect(sampleValue(samples, 'volley_fine')).toBe(1);
      expect(sampleValue(samples, 'volley_metrics_collect_errors_total', { collector: 'broken' })).toBe(1);
      expect(sampleValue(samples, 'volley_metrics_collect_errors_total', { collector: 'stuck' })).toBe(1);
      expect(reported.sort()).toEqual(['broken', 'stuck']);
    });
  });
});

describe('limitLabelValues', () => {
  it('keeps the first values it sees and folds later new ones into _other', () => {
    const label = limitLabelValues(2);

    expect(['a', 'b', 'a', 'c', 'b', 'd'].map(label)).toEqual(['a', 'b', 'a', OTHER_LABEL_VALUE, 'b', OTHER_LABEL_VALUE]);
  });
});
