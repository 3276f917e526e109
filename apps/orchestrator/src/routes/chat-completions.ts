import type { FastifyInstance } from 'fastify';
import { sseResponses } from '../http/sse-response.ts';
import { chatCompletionChunks, chatCompletionOf } from '../openai/chat-completion.ts';
import { chatCompletionRequestSchema, chatCompletionTaskOf } from '../openai/chat-completions-request.ts';
import { doorErrorOf } from '../openai/door-answer.ts';
import { followDoorTask, startDoorTask, type DoorDeps } from '../openai/door-task.ts';
import { openAIErrorBody } from '../openai/openai-error-shape.ts';
import { abortOnClose } from '../http/abort-on-close.ts';

/** The header naming the task a request of an OpenAI-compatible route became. */
export const TASK_ID_HEADER = 'x-volley-task-id';

/**
 * `POST /v1/chat/completions`: the request is a task whose cluster tools run here, in parallel,
 * until the model answers without calling one; the answer is one `chat.completion` (or its
 * chunks under `stream: true`). See README, "OpenAI-compatible routes".
 */
export function registerChatCompletionRoutes(app: FastifyInstance, deps: DoorDeps): void {
  const openSse = sseResponses(app);
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = chatCompletionRequestSchema.parse(request.body);
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
