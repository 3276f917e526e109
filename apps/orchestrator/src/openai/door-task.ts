import { taskEventsKey, type ChatMessage } from '@volley/shared';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { withBlockingRedis, type EventStreamDeps } from '../events/event-streams.ts';
import { readTaskEvents } from '../events/read-events.ts';
import { createTask, type CreateTaskBody, type CreateTaskDeps } from '../tasks/create-task.ts';
import { endTask, type EndTaskDeps } from '../tasks/end-task.ts';
import type { ModelOptions } from '@volley/api-schemas';
import { TERMINAL_STATUSES, type TaskOrigin, type TaskRecord } from '../tasks/task-record.ts';
import type { ClientCallHistory } from './client-call-history.ts';
import { sortTools, type FunctionDefinition } from './sort-tools.ts';

export type DoorDeps = CreateTaskDeps &
  EndTaskDeps & {
    redis: Redis;
    eventStreams: EventStreamDeps;
    history: ClientCallHistory;
  };

/** A request of an OpenAI-compatible route, as the task it becomes. */
export interface DoorRequest {
  api: TaskOrigin['api'];
  model: string;
  /** The conversation as the client holds it; `instructions` go first when given. */
  messages: ChatMessage[];
  instructions?: string | undefined;
  tools: FunctionDefinition[] | undefined;
  parallel_tool_calls?: boolean | undefined;
  model_options: ModelOptions;
  metadata?: Record<string, string> | undefined;
  /** The task whose conversation `messages` continue. */
  previousTask?: string | undefined;
}

/**
 * Makes the request's task, as `POST /v1/tasks` would (the caller's tenant, tools, limits), with
 * the conversation as the model made it where the client got only its own calls back.
 */
export async function startDoorTask(deps: DoorDeps, request: FastifyRequest, door: DoorRequest): Promise<TaskRecord> {
  const tools = await sortTools(deps.catalog, request.caller, door.tools);
  const history = await deps.history.restore(request.caller.tenant, door.messages);
  const messages: ChatMessage[] = door.instructions === undefined ? history : [{ role: 'system', content: door.instructions }, ...history];
  const body: CreateTaskBody = {
    messages,
    model: door.model,
    ...(tools.server === null ? {} : { tools: tools.server }),
    ...(tools.client.length > 0 ? { client_tools: tools.client } : {}),
    ...(door.parallel_tool_calls === undefined ? {} : { parallel_tool_calls: door.parallel_tool_calls }),
    ...(Object.keys(door.model_options).length > 0 ? { model_options: door.model_options } : {}),
    ...(door.metadata === undefined ? {} : { metadata: door.metadata }),
  };
  const origin: TaskOrigin = {
    api: door.api,
    input_messages: messages.length,
    ...(door.instructions === undefined ? {} : { instructions: true }),
    ...(door.previousTask === undefined ? {} : { previous_task: door.previousTask }),
  };
  return createTask(deps, body, request.traceContext, request.caller, { origin });
}

/** How often a follower reads the task's status itself (its header, no transcript), should the stream miss `task.finished` (a crash between the two writes). */
const RECORD_CHECK_MS = 5_000;

/**
 * Follows the task to its end through its events, telling `onText` each piece of the model's
 * text as it streams (with its turn), and answers the ended task, its client calls remembered.
 * When `signal` aborts first (the client went away) the task is cancelled: nobody is left to
 * read its answer.
 */
export async function followDoorTask(
  deps: DoorDeps,
  task: TaskRecord,
  signal: AbortSignal,
  onText?: (turn: number, text: string) => Promise<void>,
): Promise<TaskRecord | undefined> {
  let ended = false;
  const check = setInterval(() => {
    void deps.store.headers([task.id]).then(
      ([record]) => {
        if (record && TERMINAL_STATUSES.has(record.status)) ended = true;
      },
      () => undefined,
    );
  }, RECORD_CHECK_MS);
  try {
    await withBlockingRedis(deps.eventStreams, signal, async (redis) => {
      const events = readTaskEvents({
        redis,
        key: taskEventsKey(deps.fanOut.spaces.of(task.id), task.id),
        blockMs: Math.min(deps.eventStreams.blockMs ?? 5_000, RECORD_CHECK_MS),
        signal,
        stopWhenIdle: () => ended,
      });
      for await (const event of events) {
        if (event.event === 'task.finished') return;
        if (event.event === 'llm.delta' && onText) {
          const { turn, text } = JSON.parse(event.data) as { turn: number; text: string };
          await onText(turn, text);
        }
      }
    });
  } catch (error) {
    if (!signal.aborted) throw error;
  } finally {
    clearInterval(check);
  }
  if (signal.aborted) {
    await endTask(deps, task.id, { status: 'cancelled', error: { code: 'cancelled', message: 'the client closed the connection before the answer' } }).catch(
      () => undefined,
    );
    return undefined;
  }
  const record = (await deps.store.get(task.id)) ?? task;
  await deps.history.remember(record);
  return record;
}
