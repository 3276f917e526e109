import { metadataSchema, modelOptionsSchema, type ModelOptions } from '@volley/api-schemas';
import { jsonSchemaObjectSchema, TOOL_NAME_PATTERN, VolleyError, type AssistantMessage, type ChatMessage } from '@volley/shared';
import { z } from 'zod';
import type { DoorRequest } from './door-task.ts';

const options = modelOptionsSchema.shape;

const functionToolSchema = z.object({
  type: z.literal('function'),
  name: z.string().regex(TOOL_NAME_PATTERN, 'a function name is 1 to 64 letters, digits, "_" or "-"'),
  description: z.string().nullish(),
  parameters: jsonSchemaObjectSchema.nullish(),
  strict: z.boolean().nullish(),
});

const textPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });
const messageItemSchema = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'system', 'developer', 'assistant']),
  content: z.union([z.string(), z.array(textPartSchema)]),
});
const functionCallItemSchema = z.looseObject({ type: z.literal('function_call'), call_id: z.string().min(1), name: z.string(), arguments: z.string() });
const functionCallOutputItemSchema = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(textPartSchema)]),
});
/** Items Volley reads; `reasoning` items (a model's own, carried back by clients) are dropped. */
const inputItemSchema = z.union([messageItemSchema, functionCallItemSchema, functionCallOutputItemSchema, z.looseObject({ type: z.string() })]);

/**
 * `POST /v1/responses` as the `openai` SDK and the OpenAI Agents SDK send it. As on the Chat
 * Completions route, fields Volley has no use for (`store`, `include`, `truncation`, …) are
 * dropped and those whose meaning it cannot keep are refused.
 */
export const responsesRequestSchema = z.object({
  model: z.string().min(1).nullish(),
  input: z.union([z.string(), z.array(inputItemSchema)]),
  instructions: z.string().nullish(),
  tools: z.array(z.looseObject({ type: z.string() })).nullish(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.string(), name: z.string().optional() })]).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  previous_response_id: z.string().min(1).max(200).nullish(),
  temperature: options.temperature.nullish(),
  top_p: options.top_p.nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  user: options.user.nullish(),
  metadata: metadataSchema.nullish(),
  text: z
    .looseObject({
      format: z
        .looseObject({
          type: z.enum(['text', 'json_object', 'json_schema']),
          name: z.string().optional(),
          schema: jsonSchemaObjectSchema.optional(),
          strict: z.boolean().nullish(),
        })
        .nullish(),
    })
    .nullish(),
  reasoning: z.looseObject({ effort: options.reasoning_effort.nullish() }).nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
  conversation: z.unknown().optional(),
  prompt: z.unknown().optional(),
});
export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

const refuse = (param: string, why: string): never => {
  throw new VolleyError('unsupported_parameter', `${param}: ${why} is not supported by Volley's /v1/responses`);
};

/**
 * The request as the task it becomes: its input as Chat Completions messages, after `history`
 * (the previous response's conversation, without its instructions) when it continues one.
 */
export function responsesTaskOf(body: ResponsesRequest, history: readonly ChatMessage[], defaultModel: string): DoorRequest {
  if (body.background) refuse('background', 'background mode');
  if (body.conversation !== undefined && body.conversation !== null) refuse('conversation', 'a stored conversation (use previous_response_id)');
  if (body.prompt !== undefined && body.prompt !== null) refuse('prompt', 'a stored prompt template');
  const other = body.tools?.find((tool) => tool.type !== 'function');
  if (other) refuse('tools', `a tool of type ${JSON.stringify(other.type)} (only function tools)`);
  const model_options: ModelOptions = {};
  if (body.temperature != null) model_options.temperature = body.temperature;
  if (body.top_p != null) model_options.top_p = body.top_p;
  if (body.max_output_tokens != null) model_options.max_completion_tokens = body.max_output_tokens;
  if (body.user != null) model_options.user = body.user;
  if (body.reasoning?.effort != null) model_options.reasoning_effort = body.reasoning.effort;
  const format = body.text?.format;
  if (format && format.type !== 'text') {
    model_options.response_format =
      format.type === 'json_object'
        ? { type: 'json_object' }
        : { type: 'json_schema', json_schema: { name: format.name ?? 'output', schema: format.schema ?? {}, strict: format.strict ?? false } };
  }
  const choice = body.tool_choice;
  if (choice != null) {
    if (typeof choice === 'string') model_options.tool_choice = choice;
    else if (choice.type === 'function' && choice.name) model_options.tool_choice = { type: 'function', function: { name: choice.name } };
    else refuse('tool_choice', `a tool_choice of type ${JSON.stringify(choice.type)}`);
  }
  const messages = [...history, ...messagesOf(body.input)];
  if (messages.length === 0) throw new VolleyError('invalid_request', 'input: the request holds no message');
  return {
    api: 'responses',
    model: body.model ?? defaultModel,
    messages,
    instructions: body.instructions ?? undefined,
    tools: body.tools?.map((tool) => {
      const { name, description, parameters, strict } = functionToolSchema.parse(tool);
      return { name, description: description ?? undefined, parameters, strict };
    }),
    parallel_tool_calls: body.parallel_tool_calls ?? undefined,
    model_options,
    metadata: body.metadata ?? undefined,
  };
}

/**
 * Input items as Chat Completions messages: consecutive `function_call`s (one answer's calls)
 * become one assistant message, each `function_call_output` a tool message.
 */
export function messagesOf(input: ResponsesRequest['input']): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const messages: ChatMessage[] = [];
  for (const item of input) {
    const call = functionCallItemSchema.safeParse(item);
    if (call.success) {
      const last = messages.at(-1);
      const toolCall = { id: call.data.call_id, type: 'function' as const, function: { name: call.data.name, arguments: call.data.arguments } };
      if (last?.role === 'assistant') (last as AssistantMessage).tool_calls = [...((last as AssistantMessage).tool_calls ?? []), toolCall];
      else messages.push({ role: 'assistant', content: null, tool_calls: [toolCall] });
      continue;
    }
    const output = functionCallOutputItemSchema.safeParse(item);
    if (output.success) {
      messages.push({ role: 'tool', tool_call_id: output.data.call_id, content: textOf(output.data.output) });
      continue;
    }
    const message = messageItemSchema.safeParse(item);
    if (message.success) {
      const { role, content } = message.data;
      messages.push(
        role === 'assistant' ? { role, content: textOf(content) } : { role, content: typeof content === 'string' ? content : content.map(chatPartOf) },
      );
      continue;
    }
    if (item.type !== 'reasoning') refuse('input', `an input item of type ${JSON.stringify(item.type)}`);
  }
  return messages;
}

function textOf(content: string | ReadonlyArray<{ text?: string | undefined }>): string {
  return typeof content === 'string' ? content : content.map((part) => part.text ?? '').join('');
}

/** A Responses content part as Chat Completions spells it. */
function chatPartOf(part: z.infer<typeof textPartSchema>): { type: string; [key: string]: unknown } {
  if (part.type === 'input_text' || part.type === 'output_text') return { type: 'text', text: part.text ?? '' };
  if (part.type === 'input_image' && typeof part.image_url === 'string')
    return { type: 'image_url', image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) } };
  return refuse('input', `a content part of type ${JSON.stringify(part.type)}`);
}
