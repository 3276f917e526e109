import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sseResponses } from '../http/sse-response.ts';
import { chatCompletionChunks, chatCompletionOf, chatCompletionSchema } from '../openai/chat-completion.ts';
import { chatCompletionRequestSchema, chatCompletionTaskOf } from '../openai/chat-completions-request.ts';
import { doorErrorOf } from '../openai/door-answer.ts';
import { followDoorTask, startDoorTask, type DoorDeps } from '../openai/door-task.ts';
import { openAIErrorBody, openAIErrorResponses } from '../openai/openai-error-shape.ts';
import { abortOnClose } from '../http/abort-on-close.ts';
import { CHAT_COMPLETION_EXAMPLE, CHAT_COMPLETION_REQUEST_EXAMPLE, CHAT_COMPLETION_STREAM_EXAMPLE } from './examples.ts';

/** The header naming the task a request of an OpenAI-compatible route became. */
export const TASK_ID_HEADER = 'x-volley-task-id';

/** What an OpenAI-compatible route's task may end with instead of an answer (see `doorErrorOf`). */
export const DOOR_TASK_ERRORS = { 409: ['max_turns_exceeded', 'cancelled'], 500: ['step_failed'], 502: ['llm_error'], 504: ['task_timeout'] } as const;

/**
 * `POST /v1/chat/completions`: the request is a task whose cluster tools run here, in parallel,
 * until the model answers without calling one; the answer is one `chat.completion` (or its
 * chunks under `stream: true`). See README, "OpenAI-compatible routes".
 */
export function registerChatCompletionRoutes(app: FastifyInstance, deps: DoorDeps): void {
  const openSse = sseResponses(app);
  const schema = {
    tags: ['openai'],
    operationId: 'createChatCompletion',
    summary: 'OpenAI Chat Completions: a task whose cluster tools run here',
    description:
      "The request becomes a task (named by `x-volley-task-id`): the cluster's tools run, in parallel, until the model answers without calling one; " +
      'functions the cluster does not serve are client tools, answered as `tool_calls` for the caller to run. `stream: true` answers ' +
      "`chat.completion.chunk`s as Server-Sent Events. Errors are in OpenAI's shape.",
    body: chatCompletionRequestSchema.meta({ examples: [CHAT_COMPLETION_REQUEST_EXAMPLE] }),
    response: {
      200: {
        description: 'The answer: one `chat.completion`, or its chunks with `stream: true`',
        content: {
          'application/json': { schema: chatCompletionSchema.meta({ examples: [CHAT_COMPLETION_EXAMPLE] }) },
          'text/event-stream': { schema: z.string().meta({ examples: [CHAT_COMPLETION_STREAM_EXAMPLE] }) },
        },
      },
      ...openAIErrorResponses({ ...DOOR_TASK_ERRORS, 400: ['unknown_tool', 'tool_definition_mismatch', 'unsupported_parameter'] }, { body: true }),
    },
  };
  app.withTypeProvider<ZodTypeProvider>().post('/v1/chat/completions', { schema }, async (request, reply) => {
    const body = request.body;
    const task = await startDoorTask(deps, request, chatCompletionTaskOf(body));
    void reply.header(TASK_ID_HEADER, task.id);
    if (!body.stream) {
      const ended = await followDoorTask(deps, task, abortOnClose(reply.raw));
      if (!ended) return reply;
      if (ended.status !== 'completed') throw doorErrorOf(ended);
      return chatCompletionOf(ended);
    }
    const chunks = chatCompletionChunks(task, body.stream_options?.include_usage === true);
    const sse = openSse(reply, { heartbeatMs: deps.eventStreams.heartbeatMs, headers: { [TASK_ID_HEADER]: task.id } });
    const send = (data: object) => sse.send(`data: ${JSON.stringify(data)}\n\n`);
    try {
      await send(chunks.opening());
      const ended = await followDoorTask(deps, task, sse.signal, (turn, text) => send(chunks.text(turn, text)));
      if (!ended) return;
      if (ended.status !== 'completed') {
        const error = doorErrorOf(ended);
        await send(openAIErrorBody(error.status, error.code, error.message));
        return;
      }
      for (const chunk of chunks.closing(ended)) await send(chunk);
      await sse.send('data: [DONE]\n\n');
    } catch (error) {
      request.log.warn({ err: error, taskId: task.id }, 'chat completion stream failed');
      await send(openAIErrorBody(500, 'internal_error', 'internal error')).catch(() => undefined);
    } finally {
      sse.end();
    }
  });
}
