import type { ChatMessage } from '@volley/shared';

/**
 * Each message's JSON as UTF-8, computed once per message object. Sound because a message is
 * never changed once it is in a transcript, and the steps of a task run on one instance share
 * their message objects (TranscriptCache); a step elsewhere encodes what it read, once.
 */
const encodedMessages = new WeakMap<ChatMessage, Buffer>();
const COMMA = Buffer.from(',');
const END = Buffer.from(']}');

function encoded(message: ChatMessage): Buffer {
  let bytes = encodedMessages.get(message);
  if (!bytes) {
    bytes = Buffer.from(JSON.stringify(message));
    encodedMessages.set(message, bytes);
  }
  return bytes;
}

/**
 * The JSON body of a Chat Completions request: `fields` (everything but the transcript) and
 * `messages`. The API is stateless, so a task's k-th request carries all its k steps' messages;
 * serialized whole each time (the SDK's `JSON.stringify`, then UTF-8 for the socket) a step's
 * cost grew with its transcript (issue 15: ~0.7 ms of each step by turn 50 of 10 KB tool results,
 * and a UTF-8 copy more).
 * Here only the messages new since the last request are encoded; the rest is a copy of bytes.
 */
export function chatRequestBody(fields: Record<string, unknown>, messages: readonly ChatMessage[]): Buffer {
  const head = JSON.stringify(fields);
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)}${head === '{}' ? '' : ','}"messages":[`)];
  for (const [index, message] of messages.entries()) {
    if (index > 0) parts.push(COMMA);
    parts.push(encoded(message));
  }
  parts.push(END);
  return Buffer.concat(parts);
}
