import OpenAI from 'openai';
import {
  assistantMessageSchema,
  VolleyError,
  type AssistantMessage,
  type ChatMessage,
  type OpenAITool,
  type TokenUsage,
} from '@volley/shared';

export interface ModelRequest {
  model: string;
  messages: readonly ChatMessage[];
  tools: readonly OpenAITool[];
  parallelToolCalls?: boolean;
}

export interface ModelAnswer {
  message: AssistantMessage;
  /** The model that answered, as the endpoint names it. */
  model: string;
  finishReason: string | null;
  usage: TokenUsage;
  startedAt: number;
  finishedAt: number;
}

export interface ModelClient {
  complete(request: ModelRequest): Promise<ModelAnswer>;
}

/**
 * The only place that touches the `openai` SDK. Any OpenAI-compatible endpoint works; the
 * SDK's own retries (with backoff, honouring retry-after) cover 429s, 5xx and timeouts.
 */
export function createOpenAIModelClient(options: {
  baseURL?: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
}): ModelClient {
  const client = new OpenAI({
    apiKey: options.apiKey,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
  });
  return {
    async complete(request) {
      const startedAt = Date.now();
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      try {
        completion = await client.chat.completions.create({
          model: request.model,
          messages: [...request.messages] as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
          ...(request.tools.length > 0
            ? {
                tools: request.tools as OpenAI.Chat.Completions.ChatCompletionTool[],
                ...(request.parallelToolCalls === undefined ? {} : { parallel_tool_calls: request.parallelToolCalls }),
              }
            : {}),
        });
      } catch (error) {
        throw new VolleyError('llm_error', `the model call failed: ${(error as Error).message}`, { cause: error });
      }
      const finishedAt = Date.now();
      const choice = completion.choices[0];
      const parsed = assistantMessageSchema.safeParse(choice?.message);
      if (!parsed.success) {
        throw new VolleyError('llm_error', 'the model answered without a usable assistant message');
      }
      // Keep only what belongs in a transcript: providers add null fields (refusal, audio, …).
      const { role, content, tool_calls } = parsed.data;
      const message: AssistantMessage = { role, content: content ?? null, ...(tool_calls?.length ? { tool_calls } : {}) };
      return {
        message,
        model: completion.model,
        finishReason: choice?.finish_reason ?? null,
        usage: {
          prompt_tokens: completion.usage?.prompt_tokens ?? 0,
          completion_tokens: completion.usage?.completion_tokens ?? 0,
        },
        startedAt,
        finishedAt,
      };
    },
  };
}
