import { randomUUID } from 'node:crypto';
import type { CreateTaskBody } from '@volley/api-schemas';
import { reserveSpan, taskStepJobId, VolleyError, type Context } from '@volley/shared';
import { mayUseTool, type Caller } from '../auth/caller.ts';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import type { ToolCatalog } from '../tools/tool-catalog.ts';
import { TASK_STEP_JOB } from '../turn/task-step.ts';
import type { TaskIndex } from './task-index.ts';
import type { TaskOrigin, TaskRecord } from './task-record.ts';
import type { TaskStore } from './task-store.ts';

// The body's schema is the API's (one definition, shared with @volley/client); re-exported for the routes.
export { createTaskBodySchema } from '@volley/api-schemas';
export type { CreateTaskBody } from '@volley/api-schemas';

export interface CreateTaskDeps {
  store: TaskStore;
  /** The tenant's listing (`GET /v1/tasks`). */
  index: TaskIndex;
  catalog: ToolCatalog;
  fanOut: FanOutQueue;
  defaults: { model: string; maxTurns: number };
}

/**
 * Records the task, then queues its first step; the HTTP request returns at once. The task
 * belongs to the caller's tenant, and offers only tools the caller may use: a tool it may not
 * use is as unknown as one no worker serves.
 */
export async function createTask(
  deps: CreateTaskDeps,
  body: CreateTaskBody,
  traceContext: Context,
  caller: Caller,
  options: {
    /** Made in advance when an idempotency key must name the task before it exists. */
    id?: string;
    /** Set by the route that translated another API's request into this task. */
    origin?: TaskOrigin;
  } = {},
): Promise<TaskRecord> {
  const id = options.id ?? randomUUID();
  if (body.tools) {
    const catalog = await deps.catalog.covering(body.tools.filter((name) => mayUseTool(caller, name)));
    const unknown = body.tools.filter((name) => !mayUseTool(caller, name) || !catalog.has(name));
    if (unknown.length > 0) {
      const names = unknown.map((name) => JSON.stringify(name)).join(', ');
      const why = caller.tools === null ? 'no live worker serves it' : 'no live worker serves it, or this API key may not use it';
      throw new VolleyError('unknown_tool', `unknown tool ${names}: ${why}`);
    }
  }
  if (body.client_tools) await refuseClientToolClashes(deps.catalog, body.client_tools, body.tools ?? null, caller);
  const now = Date.now();
  const taskSpan = reserveSpan(traceContext, now) ?? null;
  const task: TaskRecord = {
    id,
    status: 'queued',
    created_at: now,
    updated_at: now,
    model: body.model ?? deps.defaults.model,
    metadata: body.metadata ?? {},
    tenant: caller.tenant,
    // A restricted caller's task is held to the tools it may use, whatever workers serve later.
    tools: body.tools ? [...new Set(body.tools)] : caller.tools ? [...caller.tools].sort() : null,
    ...(body.parallel_tool_calls === undefined ? {} : { parallel_tool_calls: body.parallel_tool_calls }),
    execution: body.execution ?? (body.parallel_tool_calls === false ? 'sequential' : 'parallel'),
    max_turns: body.max_turns ?? deps.defaults.maxTurns,
    ...(body.require_approval === undefined ? {} : { require_approval: body.require_approval }),
    ...(body.timeout_ms === undefined ? {} : { timeout_ms: body.timeout_ms, deadline_at: now + body.timeout_ms }),
    ...(body.client_tools?.length ? { client_tools: body.client_tools } : {}),
    ...(body.model_options === undefined ? {} : { model_options: body.model_options }),
    ...(options.origin === undefined ? {} : { origin: options.origin }),
    messages: body.messages,
    turns: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, llm_calls: 0, tool_calls: 0 },
    output: null,
    trace_id: taskSpan?.trace_id ?? null,
    task_span: taskSpan,
  };
  // Listed before it is written: a listing skips an entry whose record is not there (yet).
  await deps.index.add(task);
  await deps.store.create(task);
  if (task.deadline_at !== undefined) await deps.fanOut.scheduleDeadline(task.id, task.deadline_at);
  await deps.fanOut.enqueue(task.id, { name: TASK_STEP_JOB, jobId: taskStepJobId(task.id, 0), data: { taskId: task.id, turn: 0 } }, []);
  return task;
}

/**
 * A client tool must be told apart from the cluster's by its name alone: the model's call names
 * nothing else. One named like a tool the task offers, or twice, is refused.
 */
async function refuseClientToolClashes(catalog: ToolCatalog, clientTools: CreateTaskBody['client_tools'] & {}, offered: string[] | null, caller: Caller) {
  const names = clientTools.map((tool) => tool.function.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) throw new VolleyError('invalid_request', `client_tools: ${JSON.stringify(twice)} is defined twice`);
  const served = offered === null ? await catalog.covering(names) : undefined;
  const clash = names.find((name) => (offered === null ? served!.has(name) && mayUseTool(caller, name) : offered.includes(name)));
  if (clash !== undefined) {
    throw new VolleyError('invalid_request', `client_tools: ${JSON.stringify(clash)} is also a tool the cluster runs for this task; rename it or leave it out`);
  }
}
