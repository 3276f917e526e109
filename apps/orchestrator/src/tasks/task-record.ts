import { approvalRuleSchema, callErrorSchema, chatMessageSchema, openAIToolSchema, reservedSpanSchema, tokenUsageSchema, toolCallSchema } from '@volley/shared';
import { z } from 'zod';
import { modelOptionsSchema } from './model-options.ts';
import { metadataSchema } from './task-metadata.ts';

/**
 * The task record: what the store keeps in Redis and what `GET /v1/tasks/:id` answers. The types
 * are inferred from these schemas, so the record and the API document cannot tell two stories.
 */

export const taskStatusSchema = z
  .enum(['queued', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled'])
  .describe('`awaiting_approval` is never stored: a read shows it while a call of the running turn waits for a decision.');
export type TaskStatus = z.infer<typeof taskStatusSchema>;

export const callStatusSchema = z
  .enum(['queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'skipped'])
  .describe("`awaiting_approval`, like the task's, is only ever shown by a read.");
export type CallStatus = z.infer<typeof callStatusSchema>;

export const callRecordSchema = z.object({
  id: z.string().describe('The `tool_call_id` the model gave the call.'),
  name: z.string(),
  status: callStatusSchema,
  pool: z.string().nullable().describe('The pool whose queue ran the call; null when it never reached one (unknown tool).'),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
  worker_id: z.string().nullable(),
  attempts: z.number().int(),
  lock_wait_ms: z.number().optional().describe('How long the call waited for its resource locks (calls that take none have no value).'),
  error: callErrorSchema.optional(),
}).meta({ id: 'CallRecord' });
export type CallRecord = z.infer<typeof callRecordSchema>;

export const turnRecordSchema = z.object({
  index: z.number().int(),
  llm: z.object({
    started_at: z.number(),
    finished_at: z.number(),
    usage: tokenUsageSchema,
    tool_call_count: z.number().int(),
    finish_reason: z.string().nullable().optional(),
  }),
  tool_calls: z.array(callRecordSchema),
  gathered_at: z.number().optional(),
  fan_out_span: reservedSpanSchema.optional().describe("The turn's fan-out span, emitted when its results are gathered."),
}).meta({ id: 'TurnRecord' });
export type TurnRecord = z.infer<typeof turnRecordSchema>;

/**
 * A task made by an OpenAI-compatible route: `messages` opens with the request's
 * `input_messages` (the first of them the `instructions` when `instructions` is set); what
 * follows is the task's own.
 */
export const taskOriginSchema = z.object({
  api: z.enum(['chat.completions', 'responses']),
  input_messages: z.number().int(),
  instructions: z.boolean().optional(),
  previous_task: z.string().optional().describe('The task whose conversation this one continues (`previous_response_id`).'),
});
export type TaskOrigin = z.infer<typeof taskOriginSchema>;

export const taskRecordSchema = z.object({
  id: z.string(),
  tenant: z.string().nullable().describe('The tenant whose API key submitted the task; null when auth is off. Only it can see the task.'),
  status: taskStatusSchema,
  created_at: z.number(),
  updated_at: z.number(),
  model: z.string(),
  metadata: metadataSchema.describe("The caller's own labels (at most 16 string pairs), given at submission; `{}` when none."),
  tools: z.array(z.string()).nullable().describe('Tool names offered to the model; null means every tool some live worker serves.'),
  parallel_tool_calls: z.boolean().optional(),
  execution: z.enum(['parallel', 'sequential']),
  max_turns: z.number().int(),
  require_approval: approvalRuleSchema.optional().describe("Which calls need a person's approval beyond what their tools declare."),
  timeout_ms: z.number().int().optional().describe("The whole task's time limit, if it has one; at `deadline_at` it ends `failed` with `task_timeout`."),
  deadline_at: z.number().optional(),
  client_tools: z.array(openAIToolSchema).optional().describe("Functions the caller runs itself, offered to the model beside the cluster's tools."),
  model_options: modelOptionsSchema.optional(),
  origin: taskOriginSchema.optional().describe('Which API\'s request made the task, when not `POST /v1/tasks`.'),
  messages: z.array(chatMessageSchema),
  turns: z.array(turnRecordSchema),
  usage: tokenUsageSchema.extend({ llm_calls: z.number().int(), tool_calls: z.number().int() }),
  output: z.string().nullable(),
  client_tool_calls: z.array(toolCallSchema).optional().describe("The last answer's calls of client tools: the task ended for the caller to run them."),
  error: callErrorSchema.optional(),
  trace_id: z.string().nullable().describe("The task's trace in OpenTelemetry (null when tracing is off): search it in Jaeger."),
  task_span: reservedSpanSchema.nullable().describe("The task's own span, emitted when the task ends; every step's spans are its children."),
});
export type TaskRecord = z.infer<typeof taskRecordSchema>;

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);
