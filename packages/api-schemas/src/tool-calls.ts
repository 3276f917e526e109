import { z } from 'zod';
import { assistantMessageSchema, toolResultMessageSchema } from './openai-wire.ts';
import { callRecordSchema, executionSchema } from './task.ts';

/** `POST /v1/tool-calls`: one fan-out of an assistant message's calls, without a model. */
export const toolCallsBodySchema = z.strictObject({
  message: assistantMessageSchema,
  timeout_ms: z.number().int().positive().max(3_600_000).optional(),
  execution: executionSchema.default('parallel'),
  /** Ids of calls approved in advance: calls that need approval and are not listed answer `approval_required`. */
  approved: z.array(z.string()).max(1024).optional(),
  stream: z
    .boolean()
    .default(false)
    .describe(
      "Answer as Server-Sent Events: the calls' `tool_call.*` events as they happen, then `tool_calls.completed` with the answer (see README, POST /v1/tool-calls).",
    ),
});
export type ToolCallsBody = z.infer<typeof toolCallsBodySchema>;
/** What a client sends (defaults not applied yet). */
export type ToolCallsRequest = z.input<typeof toolCallsBodySchema>;

/** What `POST /v1/tool-calls` answers: one tool message per call, in `tool_calls` order, and each call's record. */
export const toolCallsAnswerSchema = z.object({
  messages: z
    .array(toolResultMessageSchema)
    .describe('One tool message per call, in `tool_calls` order, ready to append to the transcript; a call that failed is an error message.'),
  calls: z.array(callRecordSchema),
});
export type ToolCallsAnswer = z.infer<typeof toolCallsAnswerSchema>;

/**
 * The events of a streamed `POST /v1/tool-calls` besides the calls' own (`tool_call.*`, as on a
 * task's event stream): its last is `completed`, whose data is the answer the request would have
 * given as JSON, or `error` (`{error: {code, message}}`) when the fan-out failed after the
 * stream began.
 */
export const TOOL_CALLS_STREAM_EVENTS = { completed: 'tool_calls.completed', error: 'error' } as const;
