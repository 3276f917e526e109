import type { Task, TaskStatus, Turn } from '@volley/api-schemas';
import type { ReservedSpan } from '@volley/shared';

// The task as the API shows it is @volley/api-schemas' `taskSchema`; the stored record is that
// plus what only the engine reads (its spans, its origin), so the two cannot drift apart.
export type { CallRecord, CallStatus, TaskStatus } from '@volley/api-schemas';

export interface TurnRecord extends Turn {
  /** The turn's fan-out span, emitted when its results are gathered. */
  fan_out_span?: ReservedSpan;
}

/** `pending_approvals` is not stored: a read derives it (see withPendingApprovals). */
export interface TaskRecord extends Omit<Task, 'turns' | 'pending_approvals'> {
  turns: TurnRecord[];
  /** Which API's request made the task, when not `POST /v1/tasks` (see `TaskOrigin`). */
  origin?: TaskOrigin;
  /** The task's own span, emitted when the task ends; every step's spans are its children. */
  task_span: ReservedSpan | null;
}

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);

/**
 * A task made by an OpenAI-compatible route: `messages` opens with the request's
 * `input_messages` (the first of them the `instructions` when `instructions` is set); what
 * follows is the task's own.
 */
export interface TaskOrigin {
  api: 'chat.completions' | 'responses';
  input_messages: number;
  instructions?: boolean;
  /** The task whose conversation this one continues (`previous_response_id`). */
  previous_task?: string;
}
