import type { Metrics, ToolCallResult } from '@volley/shared';

/** Seconds; from a few ms (a queue hop) to minutes (a slow tool, a long line for a lock). */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

/** The tool label of a call whose tool this worker does not serve (or whose job is malformed). */
export const UNKNOWN_TOOL_LABEL = '_unknown';

/** What one call spent where, in ms; a part the call never went through is absent. */
export interface CallTimings {
  /** Enqueued → picked up (for a call that parked for a lock: its first pickup). */
  queueWaitMs?: number;
  /** In line for its resources → acquired them (locking calls only). */
  lockWaitMs?: number;
  /** The tool's execution (calls whose tool started). */
  runMs?: number;
}

export interface ToolCallMetrics {
  /** One call finished with `result` (a retried or parked call is not finished). */
  finished(tool: string, result: ToolCallResult, timings: CallTimings): void;
}

/**
 * The worker's view of its calls: where each one's time went (queue, lock, tool), by tool and
 * status, and how many ended how. `tool` must already be a name this worker serves (or
 * `_unknown`): the label stays bounded by the worker's tool set.
 */
export function createToolCallMetrics(metrics: Metrics): ToolCallMetrics {
  const labels = ['tool', 'status'] as const;
  const queueWait = metrics.histogram(
    'volley_tool_call_queue_wait_seconds',
    'Time from enqueueing a tool call to a worker picking it up.',
    labels,
    LATENCY_BUCKETS_S,
  );
  const lockWait = metrics.histogram(
    'volley_tool_call_lock_wait_seconds',
    'Time a locking tool call waited in line for its resources (parked, holding no slot).',
    labels,
    LATENCY_BUCKETS_S,
  );
  const run = metrics.histogram('volley_tool_call_run_seconds', "Time the tool's execution took.", labels, LATENCY_BUCKETS_S);
  const calls = metrics.counter('volley_tool_calls_total', 'Tool calls finished by this worker, by tool, status (ok|error) and error code (none when ok).', [
    'tool',
    'status',
    'error_code',
  ]);
  return {
    finished(tool, result, timings) {
      const status = result.ok ? 'ok' : 'error';
      calls.inc({ tool, status, error_code: result.ok ? 'none' : result.error.code });
      observe(queueWait, timings.queueWaitMs);
      observe(lockWait, timings.lockWaitMs);
      observe(run, timings.runMs);

      function observe(histogram: typeof run, ms: number | undefined): void {
        if (ms !== undefined && Number.isFinite(ms)) histogram.observe({ tool, status }, Math.max(0, ms) / 1000);
      }
    },
  };
}
