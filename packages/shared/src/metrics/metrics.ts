import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { withTimeout } from '../deadlines.ts';

/**
 * Prometheus metrics of one process, on prom-client (the only file that touches it). Every
 * metric is made through `Metrics`, which checks its name at construction: `volley_` prefix,
 * lower_snake names and labels, `_total` on counters and only on counters.
 */

const METRIC_NAME_PATTERN = /^volley_[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const LABEL_NAME_PATTERN = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
/** Labels prom-client or Prometheus reserve for histograms and summaries. */
const RESERVED_LABELS = new Set(['le', 'quantile']);

export type { Counter, Gauge, Histogram };

export interface MetricsOptions {
  /**
   * Also export Node's process metrics under their standard names (`process_*`, `nodejs_*`).
   * @defaultValue true
   */
  processMetrics?: boolean;
  /** How long a scrape waits for each collector. @defaultValue 2000 */
  collectTimeoutMs?: number;
  /** Told about a collector that failed or timed out; the scrape still answers. */
  onCollectError?: (collector: string, error: unknown) => void;
}

type Collector = { name: string; collect: () => Promise<void> };

export class Metrics {
  readonly registry = new Registry();
  private readonly collectors: Collector[] = [];
  private readonly collectTimeoutMs: number;
  private readonly onCollectError: (collector: string, error: unknown) => void;
  private readonly collectErrors: Counter<'collector'>;

  constructor(options: MetricsOptions = {}) {
    this.collectTimeoutMs = options.collectTimeoutMs ?? 2_000;
    this.onCollectError = options.onCollectError ?? (() => undefined);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.collectErrors = this.counter(
      'volley_metrics_collect_errors_total',
      'Scrapes in which a collector failed or timed out; its metrics were left out of that scrape.',
      ['collector'],
    );
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    checkNames('counter', name, labelNames);
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    checkNames('gauge', name, labelNames);
    return new Gauge<L>({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    checkNames('histogram', name, labelNames);
    return new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /**
   * Runs `collect` before every scrape (e.g. to read queue depths from Redis into gauges). A
   * collector that throws or outlasts the timeout is counted and reported; the scrape answers
   * with everything else, so one slow read does not blank the whole target.
   */
  collectOnScrape(name: string, collect: () => Promise<void>): void {
    this.collectors.push({ name, collect });
  }

  /** The Prometheus text exposition of every metric, after running the collectors. */
  async render(): Promise<{ contentType: string; body: string }> {
    await Promise.all(this.collectors.map((collector) => this.runCollector(collector)));
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private async runCollector(collector: Collector): Promise<void> {
    try {
      await withTimeout(collector.collect(), this.collectTimeoutMs);
    } catch (error) {
      this.collectErrors.inc({ collector: collector.name });
      this.onCollectError(collector.name, error);
    }
  }
}

/** Throws on a name Volley's conventions refuse, so a bad metric fails at start, not in a dashboard. */
export function checkNames(kind: 'counter' | 'gauge' | 'histogram', name: string, labelNames: readonly string[]): void {
  if (!METRIC_NAME_PATTERN.test(name)) throw new Error(`metric ${JSON.stringify(name)}: names are volley_ then lower_snake_case`);
  if (kind === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name}: counter names end in _total`);
  if (kind !== 'counter' && name.endsWith('_total')) throw new Error(`${kind} ${name}: only counters end in _total`);
  for (const label of labelNames) {
    if (!LABEL_NAME_PATTERN.test(label) || RESERVED_LABELS.has(label)) {
      throw new Error(`metric ${name}: label ${JSON.stringify(label)} is not a lower_snake_case name of its own`);
    }
  }
}
