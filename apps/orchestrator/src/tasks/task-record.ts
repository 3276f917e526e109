import type { TaskStatus } from '@volley/api-schemas';

// The task record (what the store keeps in Redis) is @volley/api-schemas' `taskRecordSchema`, and
// what `GET /v1/tasks/:id` answers is the same plus its `pending_approvals` (`taskSchema`): the
// record, the API document and @volley/client's types come from one definition.
export { callRecordSchema, callStatusSchema, taskOriginSchema, taskRecordSchema, taskStatusSchema, turnSchema as turnRecordSchema } from '@volley/api-schemas';
export type { CallRecord, CallStatus, TaskOrigin, TaskRecord, TaskStatus, Turn as TurnRecord } from '@volley/api-schemas';

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);
