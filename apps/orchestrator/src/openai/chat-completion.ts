import { toolCallSchema } from '@volley/shared';
import { z } from 'zod';
import type { TaskRecord } from '../tasks/task-record.ts';
import { doorAnswerOf, streamedText } from './door-answer.ts';

/** What `chatCompletionOf` answers, as far as clients read it (the rest is kept, not checked). */
export const chatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number().int(),
      message: z.looseObject({ role: z.literal('assistant'), content: z.string().nullable(), tool_calls: z.array(toolCallSchema).optional() }),
      finish_reason: z.enum(['stop', 'length', 'content_filter', 'tool_calls']),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() }),
});
export type ChatCompletion = z.infer<typeof chatCompletionSchema>;

export function chatCompletionIdOf(taskId: string): string {
  return `chatcmpl-${taskId}`;
}

/** The ended task as a `chat.completion`. */
export function chatCompletionOf(task: TaskRecord): ChatCompletion {
  const answer = doorAnswerOf(task);
  return {
    id: chatCompletionIdOf(task.id),
    object: 'chat.completion' as const,
    created: Math.floor(task.created_at / 1000),
    model: task.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: answer.text,
          refusal: null,
          ...(answer.clientCalls.length > 0 ? { tool_calls: answer.clientCalls } : {}),
        },
        logprobs: null,
        finish_reason: answer.finishReason,
      },
    ],
    usage: answer.usage,
    system_fingerprint: null,
  };
}

/**
 * The `chat.completion.chunk`s of a task, made as it runs: the role first, the text as it
 * streams (from every model call of the task, separated like `chatCompletionOf` joins them),
 * then the client's calls, the finish reason, and the usage chunk when asked for.
 */
export function chatCompletionChunks(task: TaskRecord, includeUsage: boolean) {
  const base = {
    id: chatCompletionIdOf(task.id),
    object: 'chat.completion.chunk',
    created: Math.floor(task.created_at / 1000),
    model: task.model,
    system_fingerprint: null,
  };
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const told = streamedText();
  return {
    opening: () => chunk({ role: 'assistant', content: '', refusal: null }),
    text: (turn: number, text: string) => chunk({ content: told.piece(turn, text) }),
    /** The chunks after the text, from the ended task. */
    closing(ended: TaskRecord) {
      const answer = doorAnswerOf(ended);
      const chunks: object[] = [];
      const rest = told.rest(answer.text);
      if (rest !== '') chunks.push(chunk({ content: rest }));
      if (answer.clientCalls.length > 0) {
        chunks.push(
          chunk({
            tool_calls: answer.clientCalls.map((call, index) => ({
              index,
              id: call.id,
              type: 'function',
              function: { name: call.function.name, arguments: call.function.arguments },
            })),
          }),
        );
      }
      chunks.push(chunk({}, answer.finishReason));
      if (includeUsage) chunks.push({ ...base, choices: [], usage: answer.usage });
      return chunks;
    },
  };
}
