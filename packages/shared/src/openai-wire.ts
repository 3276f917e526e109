import { z } from 'zod';

/**
 * The OpenAI chat wire format, as far as Volley reads it. Unknown fields are kept
 * (`looseObject`) so a transcript round-trips to the model unchanged.
 */

export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export const toolCallSchema = z.looseObject({
  id: z.string().min(1, 'tool call id must not be empty'),
  type: z.literal('function'),
  function: z.looseObject({
    // Any string: an unknown or malformed name is the model's mistake, answered per call.
    name: z.string(),
    arguments: z.string({ error: 'function.arguments must be a JSON-encoded string' }),
  }),
});
export type ToolCall = z.infer<typeof toolCallSchema>;

const contentSchema = z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]);

export const systemMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer']),
  content: contentSchema,
  name: z.string().optional(),
});

export const userMessageSchema = z.looseObject({
  role: z.literal('user'),
  content: contentSchema,
  name: z.string().optional(),
});

export const assistantMessageSchema = z.looseObject({
  role: z.literal('assistant'),
  content: contentSchema.nullable().optional(),
  tool_calls: z.array(toolCallSchema).optional(),
  name: z.string().optional(),
});
export type AssistantMessage = z.infer<typeof assistantMessageSchema>;

export const toolMessageSchema = z.looseObject({
  role: z.literal('tool'),
  tool_call_id: z.string(),
  content: contentSchema,
});
export type ToolMessage = { role: 'tool'; tool_call_id: string; content: string };

export const chatMessageSchema = z
  .discriminatedUnion('role', [systemMessageSchema, userMessageSchema, assistantMessageSchema, toolMessageSchema])
  // Its name in an OpenAPI document (the orchestrator's /openapi.json).
  .meta({ id: 'ChatMessage' });
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const jsonSchemaObjectSchema = z.record(z.string(), z.unknown());
export type JsonSchemaObject = Record<string, unknown>;

export const openAIToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(TOOL_NAME_PATTERN),
    description: z.string().optional(),
    parameters: jsonSchemaObjectSchema,
    strict: z.boolean().optional(),
  }),
});
export type OpenAITool = z.infer<typeof openAIToolSchema>;

export const tokenUsageSchema = z.object({ prompt_tokens: z.number(), completion_tokens: z.number() });
export type TokenUsage = z.infer<typeof tokenUsageSchema>;
