import { z } from 'zod';
import { approvalRuleSchema } from './approval-rule.ts';
import { callErrorSchema } from './errors.ts';
import { modelOptionsSchema } from './model-options.ts';
import { chatMessageSchema, openAIToolSchema, tokenUsageSchema, toolCallSchema } from './openai-wire.ts';

/** `awaiting_approval` is never stored: a read shows it while a call of the running turn waits for a decision. */
export const taskStatusSchema = z.enum(['queued', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled']);
export type TaskStatus = z.infer<typeof taskStatusSchema>;

/** A call's `awaiting_approval`, like the task's, is only ever shown by a read. */
export const callStatusSchema = z.enum(['queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'skipped']);
export type CallStatus = z.infer<typeof callStatusSchema>;

/** How one message's calls run: all at once, or one at a time in model order. */
export const executionSchema = z.enum(['parallel', 'sequential']);

/** A task id in a route's path. */
export const taskIdParamsSchema = z.object({ id: z.string().min(1).max(200) });

export const callRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: callStatusSchema,
  /** The pool whose queue ran the call; null when it never reached one (unknown tool). */
  pool: z.string().nullable(),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
  worker_id: z.string().nullable(),
  attempts: z.number().int(),
  /** How long the call waited for its resource locks (calls that take none have no value). */
  lock_wait_ms: z.number().optional(),
  error: callErrorSchema.optional(),
});
export type CallRecord = z.infer<typeof callRecordSchema>;

export const turnSchema = z.object({
  index: z.number().int(),
  llm: z.object({
    started_at: z.number(),
    finished_at: z.number(),
    usage: tokenUsageSchema,
    tool_call_count: z.number().int(),
    /** The model's own word on why it stopped (`stop`, `tool_calls`, `length`, …), when it said. */
    finish_reason: z.string().nullable().optional(),
  }),
  tool_calls: z.array(callRecordSchema),
  gathered_at: z.number().optional(),
});
export type Turn = z.infer<typeof turnSchema>;

/** A call of the turn in flight that waits for a person's decision. */
export const pendingApprovalSchema = z.object({
  tool_call_id: z.string(),
  name: z.string(),
  /** The model's arguments (JSON text), as the person is asked to approve them. */
  arguments: z.string(),
  requested_at: z.number(),
  /** When the call is denied with `approval_timeout` if nobody decides. */
  timeout_at: z.number(),
});
export type PendingApproval = z.infer<typeof pendingApprovalSchema>;

export const taskUsageSchema = tokenUsageSchema.extend({ llm_calls: z.number().int(), tool_calls: z.number().int() });

/** A task as `GET /v1/tasks/:id` answers it. */
export const taskSchema = z.object({
  id: z.string(),
  /** The tenant whose API key submitted the task; null when auth is off. Only it can see the task. */
  tenant: z.string().nullable(),
  status: taskStatusSchema,
  created_at: z.number(),
  updated_at: z.number(),
  model: z.string(),
  /** The caller's own labels, given at submission; `{}` when none. */
  metadata: z.record(z.string(), z.string()),
  /** Tool names offered to the model; null means every tool some live worker serves. */
  tools: z.array(z.string()).nullable(),
  parallel_tool_calls: z.boolean().optional(),
  execution: executionSchema,
  max_turns: z.number().int(),
  /** Which calls need a person's approval beyond what their tools declare. */
  require_approval: approvalRuleSchema.optional(),
  /** The whole task's time limit, if it has one; at `deadline_at` it ends `failed` with `task_timeout`. */
  timeout_ms: z.number().optional(),
  deadline_at: z.number().optional(),
  /** Functions the caller runs itself, offered to the model beside the cluster's tools. */
  client_tools: z.array(openAIToolSchema).optional(),
  model_options: modelOptionsSchema.optional(),
  messages: z.array(chatMessageSchema),
  turns: z.array(turnSchema),
  usage: taskUsageSchema,
  output: z.string().nullable(),
  /** The last answer's calls of client tools: the task ended for the caller to run them. */
  client_tool_calls: z.array(toolCallSchema).optional(),
  error: callErrorSchema.optional(),
  /** The task's trace in OpenTelemetry (null when tracing is off). */
  trace_id: z.string().nullable(),
  pending_approvals: z.array(pendingApprovalSchema),
});
export type Task = z.infer<typeof taskSchema>;

/** The longest `GET /v1/tasks/:id?wait_ms=` may wait. */
export const MAX_WAIT_MS = 60_000;

/** `GET /v1/tasks/:id?wait_ms=N`: answer once the task has ended or N ms have passed. */
export const getTaskQuerySchema = z.object({ wait_ms: z.coerce.number<number>().int().min(0).max(MAX_WAIT_MS).optional() });

/** What `POST /v1/tasks` and `POST /v1/tasks/:id/cancel` answer: the task's id and status. */
export const taskAckSchema = z.object({ id: z.string(), status: taskStatusSchema });
export type TaskAck = z.infer<typeof taskAckSchema>;

/** What `DELETE /v1/tasks/:id` answers. */
export const deletedTaskSchema = z.object({ id: z.string(), deleted: z.literal(true) });
export type DeletedTask = z.infer<typeof deletedTaskSchema>;
