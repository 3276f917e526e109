import { VolleyError, type ChatMessage } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { abortOnClose } from '../http/abort-on-close.ts';
import { sseResponses } from '../http/sse-response.ts';
import { doorErrorOf } from '../openai/door-answer.ts';
import { followDoorTask, startDoorTask, type DoorDeps } from '../openai/door-task.ts';
import { responseEvents } from '../openai/response-events.ts';
import { openAIErrorResponses } from '../openai/openai-error-shape.ts';
import { responseObjectSchema, responseOf, taskIdOfResponse } from '../openai/response-object.ts';
import { responsesRequestSchema, responsesTaskOf } from '../openai/responses-request.ts';
import { loadTaskFor } from '../tasks/load-task-for.ts';
import type { TaskRecord } from '../tasks/task-record.ts';
import { DOOR_TASK_ERRORS, TASK_ID_HEADER } from './chat-completions.ts';
import { RESPONSE_EXAMPLE, RESPONSE_STREAM_EXAMPLE, RESPONSES_REQUEST_EXAMPLE } from './examples.ts';

const paramsSchema = z.object({ id: z.string().min(1).max(200).describe('`resp_<task id>`, as `POST /v1/responses` answered it.') });
const responseAnswer = responseObjectSchema.meta({ examples: [RESPONSE_EXAMPLE] });

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

  const api = app.withTypeProvider<ZodTypeProvider>();
  const postSchema = {
    tags: ['openai'],
    operationId: 'createResponse',
    summary: 'OpenAI Responses: a task whose cluster tools run here',
    description:
      'The Responses API over the same tasks as `/v1/chat/completions`: a response is its task (`resp_<task id>`), kept as long as the task; ' +
      "`previous_response_id` continues its conversation. `stream: true` answers `response.*` events as Server-Sent Events. Errors are in OpenAI's shape.",
    body: responsesRequestSchema.meta({ examples: [RESPONSES_REQUEST_EXAMPLE] }),
    response: {
      200: {
        description: 'The `response`, or its events with `stream: true`',
        content: {
          'application/json': { schema: responseAnswer },
          'text/event-stream': { schema: z.string().meta({ examples: [RESPONSE_STREAM_EXAMPLE] }) },
        },
      },
      ...openAIErrorResponses(
        { ...DOOR_TASK_ERRORS, 400: ['unknown_tool', 'tool_definition_mismatch', 'unsupported_parameter'], 404: ['response_not_found'] },
        { body: true },
      ),
    },
  };
  api.post('/v1/responses', { schema: postSchema }, async (request, reply) => {
    const body = request.body;
    let history: ChatMessage[] = [];
    let previousTask: string | undefined;
    if (body.previous_response_id) {
      const previous = await responseTask(request.caller.tenant, body.previous_response_id);
      if (previous.status !== 'completed') {
        throw new VolleyError(
          'invalid_request',
          `previous_response_id: response ${body.previous_response_id} is ${previous.status}; only a completed response can be continued`,
        );
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

  const getSchema = {
    tags: ['openai'],
    operationId: 'getResponse',
    summary: 'A response: its task as the Responses API spells it',
    params: paramsSchema,
    response: { 200: responseAnswer.describe('The response'), ...openAIErrorResponses({ 400: ['invalid_request'], 404: ['response_not_found'] }) },
  };
  api.get('/v1/responses/:id', { schema: getSchema }, async (request) => responseOf(await responseTask(request.caller.tenant, request.params.id)));
}
