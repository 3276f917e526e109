import OpenAI from 'openai';
import { assistantMessageSchema, VolleyError, type AssistantMessage, type ChatMessage, type OpenAITool, type TokenUsage } from '@volley/shared';
import type { ModelOptions } from '@volley/api-schemas';
import { chatRequestBody } from './chat-request-body.ts';

export interface ModelRequest {
  model: string;
  messages: readonly ChatMessage[];
  tools: readonly OpenAITool[];
  parallelToolCalls?: boolean;
  /** Sampling and output settings, as Chat Completions names them. */
  options?: Omit<ModelOptions, 'tool_choice'>;
  toolChoice?: ModelOptions['tool_choice'];
  /** Told each piece of the answer's text as it streams in (called synchronously, in order). */
  onText?: (text: string) => void;
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
export function createOpenAIModelClient(options: { baseURL?: string; apiKey: string; timeoutMs: number; maxRetries: number }): ModelClient {
  const client = new OpenAI({
    apiKey: options.apiKey,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
  });
  return {
    async complete(request) {
      const startedAt = Date.now();
      let completion: StreamedCompletion;
      // The SDK's timeout ends at the response's headers; a stream that stalls after them is cut
      // when no chunk came for the same time.
      const stalled = new AbortController();
      try {
        const fields = {
          ...request.options,
          model: request.model,
          ...(request.tools.length > 0
            ? {
                tools: request.tools,
                ...(request.parallelToolCalls === undefined ? {} : { parallel_tool_calls: request.parallelToolCalls }),
                ...(request.toolChoice === undefined ? {} : { tool_choice: request.toolChoice }),
              }
            : {}),
          stream: true,
          stream_options: { include_usage: true },
        };
        // The SDK sends a request option `body` as given; its params then only tell it to read a stream.
        const stream = await client.chat.completions.create(
          { model: request.model, messages: [], stream: true },
          { signal: stalled.signal, body: chatRequestBody(fields, request.messages), headers: { 'content-type': 'application/json' } },
        );
        completion = await assembleStream(stream, request.onText, { idleMs: options.timeoutMs, stall: () => stalled.abort() });
      } catch (error) {
        throw new VolleyError('llm_error', `the model call failed: ${(error as Error).message}`, { cause: error });
      }
      const finishedAt = Date.now();
      const parsed = assistantMessageSchema.safeParse(completion.message);
      if (!parsed.success) {
        throw new VolleyError('llm_error', 'the model answered without a usable assistant message');
      }
      // Keep only what belongs in a transcript: providers add null fields (refusal, audio, …).
      const { role, content, tool_calls } = parsed.data;
      const message: AssistantMessage = { role, content: content ?? null, ...(tool_calls?.length ? { tool_calls } : {}) };
      return {
        message,
        model: completion.model,
        finishReason: completion.finishReason,
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

interface StreamedCompletion {
  model: string;
  message: { role: 'assistant'; content: string | null; tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> };
  finishReason: string | null;
  usage: OpenAI.Completions.CompletionUsage | null;
}

/**
 * Reads a streamed completion into the message it spells: the content's pieces joined, each
 * tool call put together from its deltas by `index` (its id and name come first, its arguments
 * in pieces), and the usage of the last chunk (`include_usage`).
 */
async function assembleStream(
  stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>,
  onText: ((text: string) => void) | undefined,
  idle: { idleMs: number; stall: () => void },
): Promise<StreamedCompletion> {
  let model = '';
  let content: string | null = null;
  let finishReason: string | null = null;
  let usage: OpenAI.Completions.CompletionUsage | null = null;
  const calls: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> = [];
  let stalledAfter: number | undefined;
  const timer = setTimeout(() => {
    stalledAfter = idle.idleMs;
    idle.stall();
  }, idle.idleMs);
  try {
    for await (const chunk of stream) {
      timer.refresh();
      if (chunk.model) model = chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.finish_reason) finishReason = choice.finish_reason;
      const { delta } = choice;
      if (typeof delta.content === 'string' && delta.content !== '') {
        content = (content ?? '') + delta.content;
        onText?.(delta.content);
      } else if (delta.content === '' && content === null) content = '';
      for (const part of delta.tool_calls ?? []) {
        calls[part.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
        const call = calls[part.index]!;
        if (part.id) call.id = part.id;
        if (part.function?.name) call.function.name += part.function.name;
        if (part.function?.arguments) call.function.arguments += part.function.arguments;
      }
    }
  } catch (error) {
    if (stalledAfter !== undefined) throw new Error(`the answer's stream stalled: no chunk for ${stalledAfter} ms`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // The SDK ends an aborted stream quietly: a cut stream is a failed call, not a short answer.
  if (stalledAfter !== undefined) throw new Error(`the answer's stream stalled: no chunk for ${stalledAfter} ms`);
  const toolCalls = calls.filter((call) => call !== undefined);
  // A streamed answer that only calls tools may open with an empty content: it has none.
  if (content === '' && toolCalls.length > 0) content = null;
  return { model, message: { role: 'assistant', content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) }, finishReason, usage };
}
