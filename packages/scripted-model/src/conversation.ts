import type { RequestMessage } from './chat-completion.ts';

/**
 * The current turn: everything after the last user message (the whole conversation when
 * there is none). Responders key off this so that the answer depends only on the request,
 * which keeps concurrent conversations on one server deterministic.
 */
export function messagesSinceLastUser(messages: readonly RequestMessage[]): RequestMessage[] {
  return messages.slice(messages.findLastIndex((message) => message.role === 'user') + 1);
}

export function toolMessagesSinceLastUser(messages: readonly RequestMessage[]): RequestMessage[] {
  return messagesSinceLastUser(messages).filter((message) => message.role === 'tool');
}

/** A message's content as plain text; content may be a string or an array of parts. */
export function messageText(message: RequestMessage): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const parts: unknown[] = content;
    return parts.map(partText).join('');
  }
  return JSON.stringify(content ?? null);
}

/** Maps tool_call_id to function name, from the assistant messages' tool_calls. */
export function toolCallNames(messages: readonly RequestMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of messages) {
    if (message.role !== 'assistant' || !Array.isArray(message.tool_calls)) continue;
    for (const call of message.tool_calls as unknown[]) {
      if (isRecord(call) && typeof call.id === 'string' && isRecord(call.function)) {
        const { name } = call.function;
        if (typeof name === 'string') names.set(call.id, name);
      }
    }
  }
  return names;
}

// Text parts carry `text`; anything else (images, audio) is shown as JSON rather than dropped.
function partText(part: unknown): string {
  return isRecord(part) && typeof part.text === 'string' ? part.text : JSON.stringify(part);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
