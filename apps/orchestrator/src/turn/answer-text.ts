import type { AssistantMessage } from '@volley/shared';

/** An answer's text: its content, or its text parts joined; null when it has none. */
export function answerText(content: AssistantMessage['content']): string | null {
  if (content === undefined || content === null) return null;
  if (typeof content === 'string') return content;
  return content.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}
