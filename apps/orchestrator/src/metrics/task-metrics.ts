import type { Metrics } from '@volley/shared';
import type { TaskStatus } from '../tasks/task-record.ts';

/**
 * Counts tasks as they are created and as they end, by status: the `onTransition` of the
 * task store. In flight across the deployment ≈ the turn queue (`volley_turn_queue_jobs`).
 */
export function countTasks(metrics: Metrics): (status: TaskStatus) => void {
  const created = metrics.counter('volley_tasks_created_total', 'Tasks submitted to this orchestrator.');
  const finished = metrics.counter(
    'volley_tasks_finished_total',
    'Tasks that ended, by status (completed|failed|cancelled), counted by the orchestrator that ended them.',
    ['status'],
  );
  return (status) => {
    if (status === 'queued') created.inc();
    else if (status !== 'running') finished.inc({ status });
  };
}
