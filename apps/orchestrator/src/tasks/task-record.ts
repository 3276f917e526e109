import type { ApprovalRule, CallError, ChatMessage, OpenAITool, ReservedSpan, TokenUsage, ToolCall } from '@volley/shared';
import type { ModelOptions } from './model-options.ts';

/** `awaiting_approval` is never stored: a read shows it while a call of the running turn waits for a decision. */
export type TaskStatus = 'queued' | 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';
/** `awaiting_approval`, like the task's, is only ever shown by a read (see withPendingApprovals). */
export type CallStatus = 'queued' | 'running' | 'awaiting_approval' | 'succeeded' | 'failed' | 'skipped';

export interface CallRecord {
  id: string;
  name: string;
  status: CallStatus;
  /** The pool whose queue ran the call; null when it never reached one (unknown tool). */
  pool: string | null;
  started_at: number | null;
  finished_at: number | null;
  worker_id: string | null;
  attempts: number;
  /** How long the call waited for its resource locks (calls that take none have no value). */
  lock_wait_ms?: number;
  error?: CallError;
}

export interface TurnRecord {
  index: number;
  llm: { started_at: number; finished_at: number; usage: TokenUsage; tool_call_count: number; finish_reason?: string | null };
  tool_calls: CallRecord[];
  gathered_at?: number;
  /** The turn's fan-out span, emitted when its results are gathered. */
  fan_out_span?: ReservedSpan;
}

export interface TaskRecord {
  id: string;
  /** The tenant whose API key submitted the task; null when auth is off. Only it can see the task. */
  tenant: string | null;
  status: TaskStatus;
  created_at: number;
  updated_at: number;
  model: string;
  /** The caller's own labels (at most 16 string pairs), given at submission; `{}` when none. */
  metadata: Record<string, string>;
  /** Tool names offered to the model; null means every tool some live worker serves. */
  tools: string[] | null;
  parallel_tool_calls?: boolean;
  execution: 'parallel' | 'sequential';
  max_turns: number;
  /** Which calls need a person's approval beyond what their tools declare (see `ApprovalRule`). */
  require_approval?: ApprovalRule;
  /** The whole task's time limit, if it has one; at `deadline_at` it ends `failed` with `task_timeout`. */
  timeout_ms?: number;
  deadline_at?: number;
  /** Functions the caller runs itself, offered to the model beside the cluster's tools. */
  client_tools?: OpenAITool[];
  model_options?: ModelOptions;
  /** Which API's request made the task, when not `POST /v1/tasks` (see `TaskOrigin`). */
  origin?: TaskOrigin;
  messages: ChatMessage[];
  turns: TurnRecord[];
  usage: TokenUsage & { llm_calls: number; tool_calls: number };
  output: string | null;
  /** The last answer's calls of client tools: the task ended for the caller to run them. */
  client_tool_calls?: ToolCall[];
  error?: CallError;
  /** The task's trace in OpenTelemetry (null when tracing is off): search it in Jaeger. */
  trace_id: string | null;
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
