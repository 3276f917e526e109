import { VolleyError, type ChatMessage } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { abortOnClose } from '../http/abort-on-close.ts';
import { sseResponses } from '../http/sse-response.ts';
import { doorErrorOf } from '../openai/door-answer.ts';
import { followDoorTask, startDoorTask, type DoorDeps } from '../openai/door-task.ts';
import { responseEvents } from '../openai/response-events.ts';
import { responseOf, taskIdOfResponse } from '../openai/response-object.ts';
import { responsesRequestSchema, responsesTaskOf } from '../openai/responses-request.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { TaskRecord } from '../tasks/task-record.ts';
import { TASK_ID_HEADER } from './chat-completions.ts';

const paramsSchema = z.object({ id: z.string().min(1).max(200) });

/**
 * `POST /v1/responses` and `GET /v1/responses/:id`: the Responses API over the same tasks as
 * `/v1/chat/completions`. A response is its task (`resp_<task id>`), kept as long as the task;
 * `previous_response_id` continues its conversation. See README, "OpenAI-compatible routes".
 */
export function registerResponsesRoutes(app: FastifyInstance, deps: DoorDeps): void {
  const openSse = sseResponses(app);
  const responseTask = async (tenant: string | null, responseId: string): Promise<TaskRecord> => {
    const taskId = taskIdOfResponse(responseId);
    const task = taskId === undefined ? undefined : await loadTaskFor(deps.store, tenant, taskId).catch(() => undefined);
    if (!task) throw new VolleyError('response_not_found', `no response with id ${JSON.stringify(responseId)}`);
    return task;
  };

  app.post('/v1/responses', async (request, reply) => {
    const body = responsesRequestSchema.parse(request.body);
    let history: ChatMessage[] = [];
    let previousTask: string | undefined;
    if (body.previous_response_id) {
      const previous = await responseTask(request.caller.tenant, body.previous_response_id);
      if (previous.status !== 'completed') {
        throw new VolleyError('invalid_request', `previous_response_id: response ${body.previous_response_id} is ${previous.status}; only a completed response can be continued`);
      }
      // Instructions do not carry over to the next response (as with OpenAI's).
      history = previous.messages.slice(previous.origin?.instructions ? 1 : 0);
      previousTask = previous.id;
    }
    const task = await startDoorTask(deps, request, { ...responsesTaskOf(body, history, deps.defaults.model), previousTask });
    void reply.header(TASK_ID_HEADER, task.id);
    if (!body.stream) {
      const ended = await followDoorTask(deps, task, abortOnClose(reply.raw));
      if (!ended) return reply;
      if (ended.status !== 'completed') throw doorErrorOf(ended);
      return responseOf(ended);
    }
    const events = responseEvents(task);
    const sse = openSse(reply, { heartbeatMs: deps.eventStreams.heartbeatMs, headers: { [TASK_ID_HEADER]: task.id } });
    const send = async (list: ReadonlyArray<{ type: string }>) => {
      for (const event of list) await sse.send(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    try {
      await send(events.opening());
      const ended = await followDoorTask(deps, task, sse.signal, (turn, text) => send(events.text(turn, text)));
      if (ended) await send(events.closing(ended));
    } catch (error) {
      request.log.warn({ err: error, taskId: task.id }, 'response stream failed');
      await send([{ type: 'error', code: 'internal_error', message: 'internal error', param: null } as { type: string }]).catch(() => undefined);
    } finally {
      sse.end();
    }
  });

  app.get('/v1/responses/:id', async (request) => {
    const { id } = paramsSchema.parse(request.params);
    return responseOf(await responseTask(request.caller.tenant, id));
  });
}
