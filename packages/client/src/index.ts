// The client of Volley's HTTP API. Framework adapters go beside it as subpath exports
// (`@volley/client/ai-sdk`, …) with their framework as an optional peer dependency, so this
// entry never loads one.
export { VolleyClient } from './volley-client.ts';
export type { CallOptions, SubmitOptions, GetTaskOptions, ToolCallsOptions } from './volley-client.ts';
export type { VolleyClientOptions } from './client-options.ts';
export { VolleyApiError } from './volley-api-error.ts';
export type { ClientErrorCode } from './volley-api-error.ts';
export type { TaskEvent, TaskEventsOptions } from './task-event-stream.ts';
export type { ToolCallEvent } from './tool-calls-stream.ts';
export { TASK_EVENT_NAMES } from '@volley/api-schemas';
export type {
  ApprovalDecisionRequest,
  ApprovalsAnswer,
  CallRecord,
  CallStatus,
  ChatMessage,
  CreateTaskRequest,
  DeletedTask,
  ErrorCode,
  ListedTool,
  ListTasksParams,
  PendingApproval,
  Task,
  TaskAck,
  TaskEventData,
  TaskEventName,
  TaskList,
  TaskStatus,
  TaskSummary,
  ToolCallsAnswer,
  ToolCallsRequest,
  ToolList,
  ToolMessage,
  Turn,
} from '@volley/api-schemas';
