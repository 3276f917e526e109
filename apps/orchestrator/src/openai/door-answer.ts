import { ERROR_STATUS, VolleyError, type ErrorCode, type ToolCall } from '@volley/shared';
import type { TaskRecord } from '../tasks/task-record.ts';
import { answerText } from '../turn/answer-text.ts';

/** What the model's text of one task reads as, for a client that sees one answer. */
const TURN_SEPARATOR = '\n\n';

export interface DoorAnswer {
  /** The text of every answer of the task, in order (most have text in the last answer only). */
  text: string | null;
  /** The calls the client runs itself. */
  clientCalls: ToolCall[];
  finishReason: 'stop' | 'length' | 'content_filter' | 'tool_calls';
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/**
 * A completed task as the single answer an OpenAI client expects. The text of answers that also
 * called cluster tools is kept, joined before the last: a streaming client saw it arrive, and
 * the two ways of asking must answer the same.
 */
export function doorAnswerOf(task: TaskRecord): DoorAnswer {
  const own = task.messages.slice(task.origin?.input_messages ?? task.messages.length - task.turns.length);
  const texts = own.flatMap((message) => (message.role === 'assistant' ? [answerText(message.content)] : [])).filter((text): text is string => !!text);
  const clientCalls = task.client_tool_calls ?? [];
  const last = task.turns.at(-1)?.llm.finish_reason;
  const finishReason = clientCalls.length > 0 ? 'tool_calls' : last === 'length' || last === 'content_filter' ? last : 'stop';
  const { prompt_tokens, completion_tokens } = task.usage;
  return {
    text: texts.length > 0 ? texts.join(TURN_SEPARATOR) : null,
    clientCalls,
    finishReason,
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  };
}

/** A task that did not complete, as the error its request answers (its own code and status). */
export function doorErrorOf(task: TaskRecord): VolleyError {
  const error = task.error ?? { code: task.status === 'cancelled' ? 'cancelled' : 'internal_error', message: `the task ended ${task.status}` };
  const code: ErrorCode = error.code in ERROR_STATUS ? (error.code as ErrorCode) : 'internal_error';
  return new VolleyError(code, `task ${task.id} ended ${task.status}: ${error.message}`);
}

/**
 * A task's text as a stream tells it: each piece of a model call as it comes, with the separator
 * `doorAnswerOf` joins calls with before the first piece of a later call; and at the end what
 * never reached the stream (its step's process died between the model's text and its event),
 * so the streamed text adds up to the unstreamed answer's.
 */
export function streamedText() {
  let streamed = '';
  let lastTurn: number | undefined;
  return {
    piece(turn: number, text: string): string {
      const separated = streamed !== '' && turn !== lastTurn ? TURN_SEPARATOR + text : text;
      lastTurn = turn;
      streamed += separated;
      return separated;
    },
    /** The end of `text` the stream has not told yet; '' when it told it all (or something else). */
    rest(text: string | null): string {
      if (text === null || text.length <= streamed.length || !text.startsWith(streamed)) return '';
      const rest = text.slice(streamed.length);
      streamed = text;
      return rest;
    },
  };
}
