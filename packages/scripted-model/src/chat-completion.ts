import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { estimateTokens } from './estimate-tokens.ts';

export type RequestMessage = Record<string, unknown> & { role: string };

export interface RequestTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: unknown };
}

/** The parsed request body, typed only as far as the scripted model reads it. */
export interface ChatCompletionRequest {
  model: string;
  messages: RequestMessage[];
  tools?: RequestTool[];
  parallel_tool_calls?: boolean;
  [key: string]: unknown;
}

export interface ScriptedToolCall {
  /** Generated as `call_<hex>` when missing. */
  id?: string;
  name: string;
  /** A string is sent verbatim (so a script can send malformed JSON on purpose). */
  arguments: string | Record<string, unknown>;
}

export interface ScriptedReply {
  content?: string | null;
  tool_calls?: ScriptedToolCall[];
}

export type Responder = (request: ChatCompletionRequest) => ScriptedReply | Promise<ScriptedReply>;

export interface ReplyToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ReplyMessage {
  role: 'assistant';
  content: string | null;
  tool_calls?: ReplyToolCall[];
  refusal: null;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

// Loose objects: unknown fields are kept so the recorded body is what the client sent.
const requestSchema = z.looseObject({
  model: z.string(),
  messages: z.array(z.looseObject({ role: z.string() })),
  tools: z.array(z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) })).optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
});

export type ParsedRequest = { ok: true; request: ChatCompletionRequest } | { ok: false; message: string; param?: string };

export function parseChatCompletionRequest(raw: string): ParsedRequest {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, message: 'request body is not valid JSON' };
  }
  const parsed = requestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    return { ok: false, message: `invalid request body: ${issues.join('; ')}` };
  }
  return { ok: true, request: parsed.data as ChatCompletionRequest };
}

/** Turns a responder's shorthand into the assistant message the API would send. */
export function toReplyMessage(reply: ScriptedReply): ReplyMessage {
  // Responders are user code; a wrong shape should fail loudly here, not as a confusing SDK error.
  if (typeof reply !== 'object' || reply === null) throw new TypeError('responder must return an object');
  const message: ReplyMessage = { role: 'assistant', content: reply.content ?? null, refusal: null };
  if (reply.tool_calls !== undefined && reply.tool_calls.length > 0) {
    message.tool_calls = reply.tool_calls.map((call) => {
      if (typeof call?.name !== 'string') throw new TypeError('every scripted tool call needs a string name');
      return {
        id: call.id ?? `call_${randomBytes(12).toString('hex')}`,
        type: 'function',
        function: {
          name: call.name,
          arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
        },
      };
    });
  }
  return message;
}

/** Usage from `estimateTokens`: an estimate, see there. */
export function estimateUsage(request: ChatCompletionRequest, message: ReplyMessage): CompletionUsage {
  const prompt = estimateTokens(JSON.stringify(request.messages) + JSON.stringify(request.tools ?? []));
  const completion = Math.max(1, estimateTokens(JSON.stringify(message)));
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function toChatCompletion(model: string, message: ReplyMessage, usage: CompletionUsage) {
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message,
        finish_reason: message.tool_calls === undefined ? 'stop' : 'tool_calls',
        logprobs: null,
      },
    ],
    usage,
  };
}
