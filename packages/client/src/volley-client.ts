import type {
  ApprovalDecisionRequest,
  ApprovalsAnswer,
  CreateTaskRequest,
  DeletedTask,
  ListTasksParams,
  Task,
  TaskAck,
  TaskList,
  ToolCallsAnswer,
  ToolCallsRequest,
  ToolList,
} from '@volley/api-schemas';
import { taskPath } from './api-paths.ts';
import type { VolleyClientOptions } from './client-options.ts';
import { HttpTransport } from './http-transport.ts';
import { streamTaskEvents, type TaskEvent, type TaskEventsOptions } from './task-event-stream.ts';
import { streamedToolCalls, type ToolCallEventsOptions } from './tool-calls-stream.ts';

/** What every call takes: a signal that aborts it (the call then rejects with the signal's reason). */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface SubmitOptions extends CallOptions {
  /** Makes the request safe to retry: a retry with the same key gets the first request's answer. */
  idempotencyKey?: string | undefined;
}

export interface ToolCallsOptions extends SubmitOptions, ToolCallEventsOptions {}

export interface GetTaskOptions extends CallOptions {
  /** Answer once the task has ended or this many ms (0–60000) have passed: a long poll, no loop. */
  waitMs?: number | undefined;
}

/**
 * A typed client of Volley's HTTP API. Request and answer types are the API's own zod schemas
 * (`@volley/api-schemas`); every failure is a `VolleyApiError` with the API's `status` and
 * `code`. Stateless apart from its options, so one instance serves any number of callers.
 */
export class VolleyClient {
  private readonly http: HttpTransport;

  constructor(options: VolleyClientOptions) {
    this.http = new HttpTransport(options);
  }

  /** `POST /v1/tasks`: answers at once with the queued task's id. */
  createTask(body: CreateTaskRequest, options: SubmitOptions = {}): Promise<TaskAck> {
    return this.http.json('POST', 'v1/tasks', { body, headers: idempotencyHeader(options), signal: options.signal });
  }

  /** `GET /v1/tasks/:id`, with `waitMs` as `?wait_ms=`. */
  getTask(id: string, options: GetTaskOptions = {}): Promise<Task> {
    const query = options.waitMs === undefined ? undefined : new URLSearchParams({ wait_ms: String(options.waitMs) });
    return this.http.json('GET', taskPath(id), { ...(query ? { query } : {}), signal: options.signal });
  }

  /** `GET /v1/tasks`: one page of the tenant's tasks, newest first; pass `next_cursor` back as `cursor`. */
  listTasks(params: ListTasksParams = {}, options: CallOptions = {}): Promise<TaskList> {
    const query = new URLSearchParams();
    if (params.status !== undefined) query.set('status', params.status);
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    if (params.cursor !== undefined) query.set('cursor', params.cursor);
    for (const [key, value] of Object.entries(params.metadata ?? {})) query.set(`metadata.${key}`, value);
    return this.http.json('GET', 'v1/tasks', { query, signal: options.signal });
  }

  /** `POST /v1/tasks/:id/cancel`. */
  cancelTask(id: string, options: CallOptions = {}): Promise<TaskAck> {
    return this.http.json('POST', `${taskPath(id)}/cancel`, { signal: options.signal });
  }

  /** `DELETE /v1/tasks/:id`: a finished task only (else 409 `task_not_finished`). */
  deleteTask(id: string, options: CallOptions = {}): Promise<DeletedTask> {
    return this.http.json('DELETE', taskPath(id), { signal: options.signal });
  }

  /** `POST /v1/tasks/:id/approvals`: decides waiting calls, all of them or none. */
  decide(id: string, decisions: ApprovalDecisionRequest[], options: CallOptions = {}): Promise<ApprovalsAnswer> {
    return this.http.json('POST', `${taskPath(id)}/approvals`, { body: { decisions }, signal: options.signal });
  }

  /**
   * `POST /v1/tool-calls`: runs one assistant message's calls on the cluster, without a model.
   * With `onEvent` (or `stream: true`) the answer is streamed and the calls' events, their
   * progress among them, are told as they happen.
   */
  toolCalls(body: ToolCallsRequest, options: ToolCallsOptions = {}): Promise<ToolCallsAnswer> {
    const headers = idempotencyHeader(options);
    if (options.onEvent === undefined && body.stream !== true) return this.http.json('POST', 'v1/tool-calls', { body, headers, signal: options.signal });
    return streamedToolCalls(this.http, body, { ...options, headers });
  }

  /** `GET /v1/tools`: the tools some live worker serves that the caller's key may use. */
  listTools(options: CallOptions = {}): Promise<ToolList> {
    return this.http.json('GET', 'v1/tools', { signal: options.signal });
  }

  /**
   * `GET /v1/tasks/:id/events` as an async iterator, from the first event (or after
   * `lastEventId`) until `task.finished`; a dropped connection is resumed with `Last-Event-ID`.
   */
  events(id: string, options: TaskEventsOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
    return streamTaskEvents(this.http, id, options);
  }
}

function idempotencyHeader(options: SubmitOptions): Record<string, string> {
  return options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
}
