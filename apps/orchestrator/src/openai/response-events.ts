import type { TaskRecord } from '../tasks/task-record.ts';
import { doorAnswerOf, doorErrorOf, streamedText } from './door-answer.ts';
import { functionCallItem, messageItem, outputText, responseOf } from './response-object.ts';

type ResponseEvent = { type: string } & Record<string, unknown>;

/**
 * The `response.*` events of a task, made as it runs, each with its `sequence_number`: created
 * and in progress, the message item opened at the first text and its text as deltas (from
 * every model call, separated as the response's text joins them), then at the end the message
 * closed, each client call as a `function_call` item, and `response.completed` (or `failed`).
 */
export function responseEvents(task: TaskRecord) {
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>): ResponseEvent => ({ type, sequence_number: sequence++, ...fields });
  const itemId = messageItem(task, '', 'in_progress').id;
  const told = streamedText();
  let opened = false;
  const openMessage = () => {
    opened = true;
    return [
      event('response.output_item.added', { output_index: 0, item: messageItem(task, '', 'in_progress') }),
      event('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: outputText('') }),
    ];
  };
  const delta = (text: string) => event('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta: text, logprobs: [] });
  return {
    opening: () => [event('response.created', { response: responseOf(task) }), event('response.in_progress', { response: responseOf(task) })],
    text(turn: number, text: string): ResponseEvent[] {
      return [...(opened ? [] : openMessage()), delta(told.piece(turn, text))];
    },
    closing(ended: TaskRecord): ResponseEvent[] {
      if (ended.status !== 'completed') {
        const error = doorErrorOf(ended);
        return [event('response.failed', { response: { ...responseOf(ended), error: { code: error.code, message: error.message } } })];
      }
      const answer = doorAnswerOf(ended);
      const events: ResponseEvent[] = [];
      if (answer.text !== null) {
        if (!opened) events.push(...openMessage());
        const rest = told.rest(answer.text);
        if (rest !== '') events.push(delta(rest));
        const part = outputText(answer.text);
        events.push(
          event('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text: answer.text, logprobs: [] }),
          event('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part }),
          event('response.output_item.done', { output_index: 0, item: messageItem(ended, answer.text, 'completed') }),
        );
      }
      const first = answer.text === null ? 0 : 1;
      answer.clientCalls.forEach((call, index) => {
        const output_index = first + index;
        const item = functionCallItem(ended, call, index, 'completed');
        events.push(
          event('response.output_item.added', { output_index, item: functionCallItem(ended, call, index, 'in_progress') }),
          event('response.function_call_arguments.delta', { item_id: item.id, output_index, delta: call.function.arguments }),
          event('response.function_call_arguments.done', { item_id: item.id, output_index, name: call.function.name, arguments: call.function.arguments }),
          event('response.output_item.done', { output_index, item }),
        );
      });
      const response = responseOf(ended);
      events.push(event(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response }));
      return events;
    },
  };
}
