import { metadataSchema, modelOptionsSchema, type ModelOptions } from '@volley/api-schemas';
import { chatMessageSchema, jsonSchemaObjectSchema, TOOL_NAME_PATTERN, VolleyError } from '@volley/shared';
import { z } from 'zod';
import type { DoorRequest } from './door-task.ts';

const functionToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(TOOL_NAME_PATTERN, 'a function name is 1 to 64 letters, digits, "_" or "-"'),
    description: z.string().optional(),
    parameters: jsonSchemaObjectSchema.optional(),
    strict: z.boolean().nullish(),
  }),
});

const options = modelOptionsSchema.shape;

/**
 * `POST /v1/chat/completions` as the `openai` SDK and the frameworks on it send it. Fields
 * Volley has no use for (`store`, `service_tier`, `prompt_cache_key`, …) are dropped, as an
 * OpenAI-compatible server does; fields whose meaning it cannot keep are refused (see
 * `refuseUnsupported`). SDKs send `null` for "not set", so every optional field is nullish.
 */
export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(chatMessageSchema).min(1, 'messages must hold at least one message'),
  tools: z.array(z.looseObject({ type: z.string() })).nullish(),
  tool_choice: options.tool_choice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  temperature: options.temperature.nullish(),
  top_p: options.top_p.nullish(),
  max_tokens: options.max_tokens.nullish(),
  max_completion_tokens: options.max_completion_tokens.nullish(),
  stop: options.stop.nullish(),
  seed: options.seed.nullish(),
  presence_penalty: options.presence_penalty.nullish(),
  frequency_penalty: options.frequency_penalty.nullish(),
  logit_bias: options.logit_bias.nullish(),
  user: options.user.nullish(),
  response_format: options.response_format.nullish(),
  reasoning_effort: options.reasoning_effort.nullish(),
  metadata: metadataSchema.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.number().int().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().nullish(),
  modalities: z.array(z.string()).nullish(),
  audio: z.unknown().optional(),
  prediction: z.unknown().optional(),
  web_search_options: z.unknown().optional(),
  functions: z.unknown().optional(),
  function_call: z.unknown().optional(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

const MODEL_OPTION_NAMES = Object.keys(options) as Array<keyof ModelOptions>;

/** The request as the task it becomes (see `startDoorTask`). */
export function chatCompletionTaskOf(body: ChatCompletionRequest): DoorRequest {
  refuseUnsupported(body);
  const model_options: Record<string, unknown> = {};
  for (const name of MODEL_OPTION_NAMES) if (body[name] !== undefined && body[name] !== null) model_options[name] = body[name];
  return {
    api: 'chat.completions',
    model: body.model,
    messages: body.messages,
    tools: body.tools?.map((tool) => functionToolSchema.parse(tool).function),
    parallel_tool_calls: body.parallel_tool_calls ?? undefined,
    model_options: model_options as ModelOptions,
    metadata: body.metadata ?? undefined,
  };
}

/** What a Volley task cannot give: more than one choice, audio, log probabilities, tools other than functions. */
function refuseUnsupported(body: ChatCompletionRequest): void {
  const refuse = (param: string, why: string) => {
    throw new VolleyError('unsupported_parameter', `${param}: ${why} is not supported by Volley's /v1/chat/completions`);
  };
  if (body.n !== undefined && body.n !== null && body.n !== 1) refuse('n', 'more than one choice');
  if (body.logprobs || body.top_logprobs) refuse('logprobs', 'log probabilities');
  if (body.audio !== undefined || body.modalities?.some((modality) => modality !== 'text')) refuse('modalities', 'audio output');
  if (body.prediction !== undefined) refuse('prediction', 'predicted output');
  if (body.web_search_options !== undefined) refuse('web_search_options', 'hosted web search');
  if (body.functions !== undefined || body.function_call !== undefined) refuse('functions', 'the legacy functions field (use tools)');
  const other = body.tools?.find((tool) => tool.type !== 'function');
  if (other) refuse('tools', `a tool of type ${JSON.stringify(other.type)} (only function tools)`);
}
