import { randomBytes } from 'node:crypto';
import type { CompletionUsage, ReplyMessage } from './chat-completion.ts';

/** How many characters of content (and of each call's arguments) one chunk carries at most. */
export const CHUNK_CHARS = 16;

/**
 * A reply as the stream of `chat.completion.chunk` objects the API sends for `stream: true`:
 * the role first, the content in pieces of `CHUNK_CHARS`, each tool call's id and name, then its
 * arguments in pieces (deltas keyed by `index`), the finish reason, and — with
 * `stream_options.include_usage` — a last chunk with no choices and the usage.
 */
export function toCompletionChunks(model: string, message: ReplyMessage, usage: CompletionUsage, includeUsage: boolean): object[] {
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const chunks: object[] = [chunk({ role: 'assistant', content: message.content === null ? null : '', refusal: null })];
  for (const piece of pieces(message.content ?? '')) chunks.push(chunk({ content: piece }));
  (message.tool_calls ?? []).forEach((call, index) => {
    chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }));
    for (const piece of pieces(call.function.arguments)) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  chunks.push(chunk({}, message.tool_calls === undefined ? 'stop' : 'tool_calls'));
  if (includeUsage) chunks.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
  return chunks;
}

function pieces(text: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length; at += CHUNK_CHARS) out.push(text.slice(at, at + CHUNK_CHARS));
  return out;
}
