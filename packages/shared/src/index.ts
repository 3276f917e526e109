export { VolleyError } from './errors.ts';
// The API's contract lives in @volley/api-schemas and the tool author's in @volley/tools; both
// are re-exported here by name so the apps keep one import for what they share.
export { ERROR_STATUS, errorBody, callErrorSchema, approvalRuleSchema } from '@volley/api-schemas';
export type { ErrorCode, ErrorBody, CallError, ApprovalRule } from '@volley/api-schemas';
export { parseEnv, loadEnvOrExit, env, checkClusterPrefix, redisEnvSchema, withQueuePrefix } from './config.ts';
export { settlesWithin, withTimeout } from './deadlines.ts';
export { oneAtATime } from './one-at-a-time.ts';
export { createLogger } from './logger.ts';
export type { Logger } from './logger.ts';
export {
  TOOL_NAME_PATTERN,
  toolCallSchema,
  assistantMessageSchema,
  toolMessageSchema,
  chatMessageSchema,
  openAIToolSchema,
  jsonSchemaObjectSchema,
  tokenUsageSchema,
} from '@volley/api-schemas';
export type { ToolCall, AssistantMessage, ToolMessage, ChatMessage, OpenAITool, TokenUsage } from '@volley/api-schemas';
export { defineTool, ToolError } from '@volley/tools';
export type { Tool, ZodTool, JsonSchemaTool, JsonSchemaObject, ToolContext, ResourceClaim, ApprovalContext } from '@volley/tools';
export { isZodSchema } from './tools/is-zod-schema.ts';
export { toOpenAITool } from './tools/to-openai-tool.ts';
export {
  DEFAULT_POOL,
  DEFAULT_PREFIX,
  TURN_QUEUE,
  POOL_NAME_PATTERN,
  toolQueueName,
  taskStepJobId,
  fanOutId,
  toolCallJobId,
  toolCallJobKey,
  lockTicket,
  ticketJob,
  jobLockKey,
  cancelChannel,
  taskEndedKey,
  taskGatheredKey,
  taskLockWaitsKey,
  callIdempotencyKey,
  callResultKey,
  lockPlanKey,
} from './queue/names.ts';
export { KeySpaces } from './queue/key-spaces.ts';
export { FanInReplies, fanInInboxKey, FAN_IN_ENTRY } from './queue/fan-in-inbox.ts';
export { TickBatches } from './redis/tick-batches.ts';
export { ShardWorkers } from './queue/shard-workers.ts';
export { toolCallJobDataSchema, toolCallResultSchema, failedResult, crashedResult, TENANT_NAME_PATTERN } from './queue/tool-call-job.ts';
export type { ToolCallJobData, ToolCallResult } from './queue/tool-call-job.ts';
export { Approvals, approvalRecordSchema, taskApprovalsKey } from './approvals/approvals.ts';
export type { ApprovalRecord, ApprovalDecision, DecideOutcome } from './approvals/approvals.ts';
export { toToolMessage } from './tool-message.ts';
export { TaskEvents, taskEventsKey } from './events/task-events.ts';
export type { TaskEventFields } from './events/task-events.ts';
export { TASK_EVENT_NAMES } from '@volley/api-schemas';
export type { TaskEventName } from '@volley/api-schemas';
export {
  registerWorker,
  listLiveWorkers,
  listKnownPools,
  forgetPool,
  registryKeys,
  publishedToolSchema,
  workerDocumentSchema,
} from './registry/worker-registry.ts';
export type { PublishedTool, WorkerDocument, WorkerRegistration } from './registry/worker-registry.ts';
export { createRedis, redisTargetOf } from './redis/connection.ts';
export type { RedisTarget } from './redis/connection.ts';
export { waitForRedis, waitForRedisOrExit } from './redis/wait-for-redis.ts';
export { checkEvictionPolicyOrExit, evictionPolicyVerdict, readEvictionPolicies, REQUIRED_POLICY } from './redis/eviction-policy.ts';
export type { EvictionPolicyReading, EvictionPolicyVerdict } from './redis/eviction-policy.ts';
export { Metrics } from './metrics/metrics.ts';
export type { Counter, Gauge, Histogram, MetricsOptions } from './metrics/metrics.ts';
export { limitLabelValues, OTHER_LABEL_VALUE } from './metrics/label-limit.ts';
export { startTelemetry } from './telemetry/start-telemetry.ts';
export type { Telemetry } from './telemetry/start-telemetry.ts';
export {
  ATTR,
  SpanKind,
  contextOf,
  emitReservedSpan,
  extractTraceContext,
  inSpan,
  injectTraceContext,
  isTracingEnabled,
  linkTo,
  markError,
  recordSpan,
  reserveSpan,
  reservedSpanSchema,
  tracer,
  trace,
  context,
} from './telemetry/tracing.ts';
export type { ReservedSpan, Context, Link, Span } from './telemetry/tracing.ts';
