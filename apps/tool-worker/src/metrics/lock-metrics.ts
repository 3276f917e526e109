import type { Metrics } from '@volley/shared';

export interface LockMetrics {
  /** A body ran on past its call's answer and lost its locks (the bound passed, or its lease). */
  bodyAbandoned(tool: string): void;
}

/** `tool` must be a name this worker serves: the label stays bounded by its tool set. */
export function createLockMetrics(metrics: Metrics): LockMetrics {
  const abandoned = metrics.counter(
    'volley_tool_bodies_abandoned_total',
    "Tool bodies still running past their call's answer whose resource locks went (VOLLEY_ABANDON_AFTER_MS passed, or the lease was lost).",
    ['tool'],
  );
  return {
    bodyAbandoned(tool) {
      abandoned.inc({ tool });
    },
  };
}
