// The HTTP API's request and response schemas: the routes parse with them, and @volley/client
// takes its types from them, so the two cannot drift. Depends on zod only.
export { ERROR_STATUS, callErrorSchema, errorBodySchema, errorBody } from './errors.ts';
export type { ErrorCode, CallError, ErrorBody } from './errors.ts';
export {
  TOOL_NAME_PATTERN,
  toolCallSchema,
  systemMessageSchema,
  userMessageSchema,
  assistantMessageSchema,
  toolMessageSchema,
  toolResultMessageSchema,
  chatMessageSchema,
  jsonSchemaObjectSchema,
  openAIToolSchema,
  tokenUsageSchema,
} from './openai-wire.ts';
export type { ToolCall, AssistantMessage, ToolMessage, ChatMessage, OpenAITool, TokenUsage } from './openai-wire.ts';
export { approvalRuleSchema } from './approval-rule.ts';
export type { ApprovalRule } from './approval-rule.ts';
export { MAX_METADATA_PAIRS, METADATA_KEY_PATTERN, MAX_METADATA_VALUE_LENGTH, metadataValueSchema, metadataSchema } from './task-metadata.ts';
export type { TaskMetadata } from './task-metadata.ts';
export {
  taskStatusSchema,
  callStatusSchema,
  executionSchema,
  taskIdParamsSchema,
  callRecordSchema,
  turnSchema,
  pendingApprovalSchema,
  taskUsageSchema,
  taskOriginSchema,
  taskRecordSchema,
  taskSchema,
  MAX_WAIT_MS,
  getTaskQuerySchema,
  taskAckSchema,
  deletedTaskSchema,
} from './task.ts';
export type { TaskStatus, CallStatus, CallRecord, Turn, PendingApproval, TaskOrigin, TaskRecord, Task, TaskAck, DeletedTask } from './task.ts';
export { reservedSpanSchema } from './reserved-span.ts';
export type { ReservedSpan } from './reserved-span.ts';
export { modelOptionsSchema } from './model-options.ts';
export type { ModelOptions } from './model-options.ts';
export { createTaskBodySchema } from './create-task.ts';
export type { CreateTaskBody, CreateTaskRequest } from './create-task.ts';
export { listTasksParamsSchema, taskSummarySchema, taskListSchema } from './list-tasks.ts';
export type { ListTasksParams, TaskSummary, TaskList } from './list-tasks.ts';
export { approvalsBodySchema, approvalsAnswerSchema } from './approvals.ts';
export type { ApprovalsBody, ApprovalDecisionRequest, ApprovalsAnswer } from './approvals.ts';
export { toolCallsBodySchema, toolCallsAnswerSchema, TOOL_CALLS_STREAM_EVENTS } from './tool-calls.ts';
export type { ToolCallsBody, ToolCallsRequest, ToolCallsAnswer } from './tool-calls.ts';
export { needsApprovalSchema, listedToolSchema, toolListSchema } from './tools.ts';
export type { ListedTool, ToolList } from './tools.ts';
export { TASK_EVENT_NAMES, taskEventDataSchema } from './task-events.ts';
export type { TaskEventName, TaskEventData } from './task-events.ts';
