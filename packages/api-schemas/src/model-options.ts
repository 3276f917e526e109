import { z } from 'zod';

/**
 * The upstream model's sampling and output settings a task passes on with every model call, as
 * Chat Completions names them. A closed list: a field the endpoint would reject is refused here,
 * at submission, rather than failing the task at its first model call.
 */
export const modelOptionsSchema = z.strictObject({
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
  seed: z.number().int().optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  logit_bias: z.record(z.string(), z.number()).optional(),
  user: z.string().max(256).optional(),
  response_format: z.looseObject({ type: z.enum(['text', 'json_object', 'json_schema']) }).optional(),
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).optional(),
  /**
   * Sent with the task's first model call only: forcing a call on every call would loop until
   * `max_turns` (the OpenAI Agents SDK resets it after a tool call for the same reason).
   */
  tool_choice: z
    .union([z.enum(['none', 'auto', 'required']), z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string() }) })])
    .optional(),
});
export type ModelOptions = z.infer<typeof modelOptionsSchema>;
