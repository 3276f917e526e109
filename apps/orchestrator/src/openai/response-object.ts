import { callErrorSchema, type ToolCall } from '@volley/shared';
import { z } from 'zod';
import type { TaskRecord } from '../tasks/task-record.ts';
import { answerText } from '../turn/answer-text.ts';
import { doorAnswerOf, type DoorAnswer } from './door-answer.ts';

/** What `responseOf` answers, as far as clients read it (the rest is kept, not checked). */
export const responseObjectSchema = z.looseObject({
  id: z.string(),
  object: z.literal('response'),
  created_at: z.number().int(),
  model: z.string(),
  status: z.enum(['in_progress', 'completed', 'incomplete', 'failed', 'cancelled']),
  output: z.array(z.looseObject({ type: z.enum(['message', 'function_call']) })),
  usage: z.looseObject({ input_tokens: z.number(), output_tokens: z.number(), total_tokens: z.number() }).nullable(),
  error: callErrorSchema.nullable(),
});
export type ResponseObject = z.infer<typeof responseObjectSchema>;

const RESPONSE_ID = /^resp_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** A response is its task, under the id the Responses API spells. */
export function responseIdOf(taskId: string): string {
  return `resp_${taskId}`;
}

/** The task a response id names; undefined for an id Volley did not make. */
export function taskIdOfResponse(responseId: string): string | undefined {
  return RESPONSE_ID.exec(responseId)?.[1];
}

const messageItemId = (task: TaskRecord) => `msg_${task.id}`;
const callItemId = (task: TaskRecord, index: number) => `fc_${index}_${task.id}`;

export function messageItem(task: TaskRecord, text: string, status: 'in_progress' | 'completed') {
  return { type: 'message' as const, id: messageItemId(task), status, role: 'assistant', content: status === 'completed' ? [outputText(text)] : [] };
}

export function outputText(text: string) {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

export function functionCallItem(task: TaskRecord, call: ToolCall, index: number, status: 'in_progress' | 'completed') {
  return {
    type: 'function_call' as const,
    id: callItemId(task, index),
    call_id: call.id,
    name: call.function.name,
    arguments: status === 'completed' ? call.function.arguments : '',
    status,
  };
}

/** The output items of an ended task: its text as one message, then the client's calls. */
export function outputItems(task: TaskRecord, answer: DoorAnswer) {
  return [
    ...(answer.text === null ? [] : [messageItem(task, answer.text, 'completed')]),
    ...answer.clientCalls.map((call, index) => functionCallItem(task, call, index, 'completed')),
  ];
}

/**
 * The task as a `response`: `in_progress` with no output while it runs, `completed` with its
 * output and usage once it has, `failed` with its error otherwise. The request's settings are
 * read back from the record.
 */
export function responseOf(task: TaskRecord): ResponseObject {
  const options = task.model_options ?? {};
  const instructions = task.origin?.instructions ? answerText(task.messages[0]!.content as string) : null;
  const base = {
    id: responseIdOf(task.id),
    object: 'response' as const,
    created_at: Math.floor(task.created_at / 1000),
    model: task.model,
    instructions,
    metadata: task.metadata,
    parallel_tool_calls: task.parallel_tool_calls ?? true,
    previous_response_id: task.origin?.previous_task ? responseIdOf(task.origin.previous_task) : null,
    temperature: options.temperature ?? null,
    top_p: options.top_p ?? null,
    max_output_tokens: options.max_completion_tokens ?? null,
    tool_choice: toolChoiceOf(options.tool_choice),
    tools: [
      ...(task.tools ?? []).map((name) => ({ type: 'function', name, strict: null, parameters: null })),
      ...(task.client_tools ?? []).map(({ function: tool }) => ({
        type: 'function',
        name: tool.name,
        description: tool.description ?? null,
        parameters: tool.parameters,
        strict: tool.strict ?? null,
      })),
    ],
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    incomplete_details: null,
    usage: null as null | ReturnType<typeof usageOf>,
    error: null as null | { code: string; message: string },
  };
  if (task.status === 'completed') {
    const answer = doorAnswerOf(task);
    const incomplete = answer.finishReason === 'length' || answer.finishReason === 'content_filter';
    return {
      ...base,
      status: incomplete ? 'incomplete' : 'completed',
      ...(incomplete ? { incomplete_details: { reason: answer.finishReason === 'length' ? 'max_output_tokens' : 'content_filter' } } : {}),
      output: outputItems(task, answer),
      usage: usageOf(answer),
    };
  }
  if (task.status === 'failed' || task.status === 'cancelled') {
    const error = task.error ?? { code: task.status, message: `the task ended ${task.status}` };
    return { ...base, status: task.status, output: [], error: { code: error.code, message: error.message } };
  }
  return { ...base, status: 'in_progress', output: [] };
}

function usageOf(answer: DoorAnswer) {
  const { prompt_tokens, completion_tokens, total_tokens } = answer.usage;
  return {
    input_tokens: prompt_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens,
  };
}

function toolChoiceOf(choice: NonNullable<TaskRecord['model_options']>['tool_choice']) {
  if (choice === undefined) return 'auto';
  return typeof choice === 'string' ? choice : { type: 'function', name: choice.function.name };
}
