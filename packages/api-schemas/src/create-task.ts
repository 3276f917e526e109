import { z } from 'zod';
import { approvalRuleSchema } from './approval-rule.ts';
import { modelOptionsSchema } from './model-options.ts';
import { chatMessageSchema, openAIToolSchema } from './openai-wire.ts';
import { executionSchema } from './task.ts';
import { metadataSchema } from './task-metadata.ts';

/** `POST /v1/tasks`: run an agent task. */
export const createTaskBodySchema = z.strictObject({
  messages: z.array(chatMessageSchema).min(1, 'messages must hold at least one message'),
  tools: z.array(z.string()).optional(),
  model: z.string().min(1).optional(),
  parallel_tool_calls: z.boolean().optional(),
  /** How one message's calls run; `parallel_tool_calls: false` implies sequential. */
  execution: executionSchema.optional(),
  max_turns: z.number().int().min(1).max(100).optional(),
  /** The whole task's time limit: past it the task ends `failed` with `task_timeout`, its calls cancelled. */
  timeout_ms: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 3600 * 1000)
    .optional(),
  /** The caller's own labels, kept on the record and filterable in `GET /v1/tasks`. */
  metadata: metadataSchema.optional(),
  /** Calls that wait for a person's approval besides those whose tools ask for it. */
  require_approval: approvalRuleSchema.optional(),
  /**
   * Functions the caller runs itself: offered to the model beside the cluster's tools, never run
   * here. An answer that calls one ends the task `completed` with `client_tool_calls` (after
   * the same answer's cluster calls ran), for the caller to run and continue the conversation.
   */
  client_tools: z.array(openAIToolSchema).max(128).optional(),
  /** Passed on with every model call (see `modelOptionsSchema`). */
  model_options: modelOptionsSchema.optional(),
});
export type CreateTaskBody = z.infer<typeof createTaskBodySchema>;
/** What a client sends (defaults not applied yet). */
export type CreateTaskRequest = z.input<typeof createTaskBodySchema>;
