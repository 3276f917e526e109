import { approvalRuleSchema, callErrorSchema, type CallError } from '@volley/api-schemas';
import { z } from 'zod';

/** What a tenant may be called (API key config checks it; job data carries it). */
export const TENANT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What a tool-call job carries from the orchestrator to a worker. */
export const toolCallJobDataSchema = z.object({
  taskId: z.string(),
  toolCallId: z.string(),
  name: z.string(),
  /** The model's raw JSON text: parsed and validated by the worker, at its edge. */
  arguments: z.string(),
  /** Epoch ms after which the call is not started and, if running, is aborted. */
  deadline: z.number().optional(),
  /** The task turn the call belongs to (absent for bare fan-outs): once that turn is gathered, it never runs. */
  turn: z.number().int().min(0).optional(),
  /**
   * The tenant the call acts for (absent when auth is off): its resource lock keys are the
   * tenant's own, and the tool sees it as `ctx.tenant`. A tenant name, so never holding '/'.
   */
  tenant: z.string().regex(TENANT_NAME_PATTERN).optional(),
  /**
   * A call of no task turn that still reports on its fan-out's event stream (`taskEventsKey` of
   * `taskId`): someone reads it while the fan-out runs, e.g. an MCP `tools/call` relaying progress.
   */
  events: z.literal(true).optional(),
  /**
   * The inbox (an orchestrator process's address) to which the worker delivers the call's result:
   * a call of a bare fan-out, which has no parent job to gather it (see `FanInReplies`).
   */
  reply_to: z.string().optional(),
  /** W3C trace context of the turn's fan-out span: the call's spans are its children. */
  trace: z.record(z.string(), z.string()).optional(),
  /**
   * Present when the call takes resource locks: its message's lock group, its rank among the
   * message's locking calls (model order), and their tickets, so the worker can order them.
   */
  lock: z
    .object({
      group: z.string(),
      rank: z.number().int().min(0),
      siblings: z.array(z.string()).min(1),
      /** The message runs one call at a time, in model order. */
      sequential: z.boolean(),
    })
    .optional(),
  /**
   * Approval beyond the tool's own `needsApproval`: the task's rule (`require`), or the call was
   * approved in advance by its request (`approved`). Whether it waits for a decision or is
   * refused `approval_required` at once follows from `turn`: a task's call waits, a bare one is refused.
   */
  approval: z.object({ require: approvalRuleSchema.optional(), approved: z.literal(true).optional() }).optional(),
});
export type ToolCallJobData = z.infer<typeof toolCallJobDataSchema>;

const resultTiming = {
  tool_call_id: z.string(),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
  worker_id: z.string().nullable(),
  attempts: z.number(),
  /** How long the call waited for its resource locks; absent when it took none. */
  lock_wait_ms: z.number().optional(),
  /** The call's `execute_tool` span, for the fan-in's links. */
  span: z.object({ trace_id: z.string(), span_id: z.string() }).optional(),
};

/** What a tool-call job returns: a failing tool is a value, never a failed job. */
export const toolCallResultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), content: z.string(), ...resultTiming }),
  z.object({ ok: z.literal(false), error: callErrorSchema, ...resultTiming }),
]);
export type ToolCallResult = z.infer<typeof toolCallResultSchema>;

/** A call whose job failed for good (`reason`: BullMQ's failed reason, or the error it failed with). */
export function crashedResult(toolCallId: string, reason: string, attempts = 0): ToolCallResult {
  return failedResult(toolCallId, { code: 'tool_crashed', message: `the call failed: ${reason}` }, attempts);
}

/** A result made without running anything (unknown tool, lost job, …). */
export function failedResult(toolCallId: string, error: CallError, attempts = 0): ToolCallResult {
  return { ok: false, error, tool_call_id: toolCallId, started_at: null, finished_at: null, worker_id: null, attempts };
}
