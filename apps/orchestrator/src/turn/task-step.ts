import {
  ATTR,
  contextOf,
  fanOutId,
  inSpan,
  injectTraceContext,
  jobLockKey,
  reserveSpan,
  SpanKind,
  taskStepJobId,
  toToolMessage,
  VolleyError,
  type AssistantMessage,
  type Logger,
  type TaskEvents,
  type ToolCall,
} from '@volley/shared';
import type { Job } from 'bullmq';
import { z } from 'zod';
import {
  emitFannedOut,
  emitModelFailed,
  emitModelFinished,
  emitModelStarted,
  emitTaskFinished,
  emitTurnGathered,
  modelTextEvents,
} from '../events/step-events.ts';
import { finishedCallRecord, pendingCallRecord } from '../fan-out/call-record.ts';
import { fanInSlotSchema } from '../fan-out/fan-in-slot-schema.ts';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { gatherFanIn } from '../fan-out/gather-fan-in.ts';
import { planFanOut, type FanInSlot } from '../fan-out/plan-fan-out.ts';
import { TERMINAL_STATUSES, type TaskRecord, type TurnRecord } from '../tasks/task-record.ts';
import { emitTaskSpan } from '../tasks/task-span.ts';
import { StepSuperseded, TaskEnded, type StepFence, type TaskStore } from '../tasks/task-store.ts';
import { modelTool, type ToolCatalog } from '../tools/tool-catalog.ts';
import { answerText } from './answer-text.ts';
import type { ModelClient } from './model-client.ts';

export const TASK_STEP_JOB = 'task-step';

export const taskStepDataSchema = z.object({
  taskId: z.string(),
  turn: z.number().int().min(0),
  slots: z.array(fanInSlotSchema).optional(),
});
export type TaskStepData = z.infer<typeof taskStepDataSchema>;

export interface TaskStepDeps {
  store: TaskStore;
  catalog: ToolCatalog;
  fanOut: FanOutQueue;
  model: ModelClient;
  logger: Logger;
  maxArgumentBytes: number;
  /** Where the task's events go (see `events/step-events.ts`); none are emitted without it. */
  events?: TaskEvents;
}

/**
 * One step of a task, run as a job on the turn queue: gather the previous turn's results (the
 * job is that fan-out's parent), call the model, then fan the answer's calls out under the
 * next step's job, or finish. Each stage is recorded before the next starts, so a step that
 * runs again (its orchestrator died) resumes where the record says instead of redoing it.
 * Every write is fenced to the current owner of the step job (`token` is its lock), so a run
 * that stalled past its job lock and wakes up after another took the step over writes nothing.
 */
export async function runTaskStep(deps: TaskStepDeps, job: Job, token: string | undefined): Promise<void> {
  const fence = token === undefined ? undefined : { lockKey: jobLockKey(job), token };
  try {
    await step(deps, job, fence);
  } catch (error) {
    // Ended meanwhile: the write was refused, and nothing more of the task may start.
    if (error instanceof TaskEnded) return;
    if (error instanceof StepSuperseded) {
      deps.logger.warn({ jobId: job.id }, 'step taken over by another process while this one stalled; it stops without writing');
      return;
    }
    throw error;
  }
}

async function step(deps: TaskStepDeps, job: Job, fence: StepFence | undefined): Promise<void> {
  const data = taskStepDataSchema.parse(job.data);
  const task = await deps.store.get(data.taskId);
  if (!task || TERMINAL_STATUSES.has(task.status)) return;
  const wasQueued = task.status === 'queued';
  if (wasQueued) task.status = 'running';

  const previous = task.turns[data.turn - 1];
  if (previous && previous.gathered_at === undefined) {
    await gatherTurn(job, task, previous, data.slots ?? []);
    await deps.store.put(task, fence, previous.index);
    await emitTurnGathered(deps.events, task.id, previous);
  }

  let turn = task.turns[data.turn];
  if (!turn) {
    // The answer before also called the caller's own tools: with its cluster calls done, the caller's turn.
    const forClient = previous ? clientCallsOf(task, lastAnswer(task)) : [];
    if (forClient.length > 0) return finish(deps, task, 'completed', undefined, fence, forClient);
    if (task.deadline_at !== undefined && Date.now() >= task.deadline_at) {
      return finish(deps, task, 'failed', taskTimeoutError(task), fence);
    }
    if (data.turn >= task.max_turns) {
      return finish(
        deps,
        task,
        'failed',
        { code: 'max_turns_exceeded', message: `the task reached max_turns (${task.max_turns}) without a final answer` },
        fence,
      );
    }
    // A model call is the one thing of a step no write fences: a run that lost its step makes none.
    if (fence && !(await deps.store.owns(fence))) throw new StepSuperseded(task.id);
    // Its round trip overlaps the model call: the events after it go on the same connection, in order.
    const started = emitModelStarted(deps.events, task, data.turn, wasQueued);
    started.catch(() => undefined);
    try {
      turn = await callModel(deps, task, data.turn);
      await started;
    } catch (error) {
      if (!VolleyError.isInstance(error) || error.code !== 'llm_error') throw error;
      deps.logger.warn({ taskId: task.id, turn: data.turn, err: error }, 'model call failed');
      await started;
      await emitModelFailed(deps.events, task.id, data.turn, { code: error.code, message: error.message });
      return finish(deps, task, 'failed', { code: error.code, message: error.message }, fence);
    }
  }
  const message = lastAnswer(task);
  const forClient = clientCallsOf(task, message);
  const calls = (message.tool_calls ?? []).filter((call) => !forClient.includes(call));
  if (calls.length === 0) {
    task.output = answerText(message.content);
    return finish(deps, task, 'completed', undefined, fence, forClient);
  }
  await fanOutTurn(deps, task, turn, calls, fence);
}

function lastAnswer(task: TaskRecord): AssistantMessage {
  return task.messages.findLast((m) => m.role === 'assistant') as AssistantMessage;
}

/** The answer's calls of functions the caller runs itself (`client_tools`), in the model's order. */
function clientCallsOf(task: TaskRecord, message: AssistantMessage): ToolCall[] {
  if (!task.client_tools || !message.tool_calls) return [];
  const names = new Set(task.client_tools.map((tool) => tool.function.name));
  return message.tool_calls.filter((call) => names.has(call.function.name));
}

export function taskTimeoutError(task: TaskRecord): { code: string; message: string } {
  return { code: 'task_timeout', message: `the task did not finish within its timeout_ms (${task.timeout_ms} ms)` };
}

/**
 * A step job that failed for good (its attempts spent, or it stalled too often) would leave
 * its task `running` forever: nothing else advances it. End the task instead, saying why.
 */
export async function failTaskOfDeadStep(deps: TaskStepDeps, job: Job, error: Error): Promise<void> {
  const data = taskStepDataSchema.parse(job.data);
  const task = await deps.store.get(data.taskId);
  if (!task || TERMINAL_STATUSES.has(task.status)) return;
  const message = `step ${data.turn} of the task failed for good (after ${job.attemptsMade} attempts): ${error.message}`;
  // The job is over, so no run of it owns anything to fence with; a task that ended meanwhile is left as it ended.
  await finish(deps, task, 'failed', { code: 'step_failed', message }).catch((failure: unknown) => {
    if (!(failure instanceof TaskEnded)) throw failure;
  });
}

async function gatherTurn(job: Job, task: TaskRecord, turn: TurnRecord, slots: FanInSlot[]) {
  const traced = turn.fan_out_span ? { fanOutSpan: turn.fan_out_span, attributes: { [ATTR.taskId]: task.id, [ATTR.turn]: turn.index } } : undefined;
  const results = await gatherFanIn(job, slots, job.prefix, traced);
  turn.tool_calls = slots.map((slot, index) => finishedCallRecord(slot, results[index]!));
  turn.gathered_at = Date.now();
  task.messages.push(...results.map(toToolMessage));
  task.usage.tool_calls += results.length;
}

async function callModel(deps: TaskStepDeps, task: TaskRecord, index: number): Promise<TurnRecord> {
  const catalog = await deps.catalog.current();
  const entries = task.tools === null ? [...catalog.values()] : task.tools.flatMap((name) => catalog.get(name) ?? []);
  const text = modelTextEvents(deps.events, task.id, index);
  const answer = await inSpan(
    `chat ${task.model}`,
    {
      parent: contextOf(task.task_span ?? undefined),
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR.genAiOperation]: 'chat',
        [ATTR.genAiProvider]: 'openai',
        [ATTR.genAiRequestModel]: task.model,
        [ATTR.taskId]: task.id,
        [ATTR.turn]: index,
      },
    },
    async (span) => {
      const { tool_choice, ...options } = task.model_options ?? {};
      const answer = await deps.model.complete({
        model: task.model,
        messages: task.messages,
        tools: [...entries.map(modelTool), ...(task.client_tools ?? [])],
        ...(task.parallel_tool_calls === undefined ? {} : { parallelToolCalls: task.parallel_tool_calls }),
        ...(task.model_options ? { options } : {}),
        ...(tool_choice !== undefined && index === 0 ? { toolChoice: tool_choice } : {}),
        ...(text.onText ? { onText: text.onText } : {}),
      });
      span.setAttributes({
        [ATTR.genAiResponseModel]: answer.model,
        [ATTR.genAiInputTokens]: answer.usage.prompt_tokens,
        [ATTR.genAiOutputTokens]: answer.usage.completion_tokens,
        [ATTR.genAiFinishReasons]: answer.finishReason ? [answer.finishReason] : [],
        'volley.tool_call_count': answer.message.tool_calls?.length ?? 0,
      });
      return answer;
    },
  ).catch(async (error: unknown) => {
    await text.flush(true).catch(() => undefined);
    throw error;
  });
  await text.flush();
  const toolCallCount = answer.message.tool_calls?.length ?? 0;
  // Whether the model really calls tools in parallel is the first thing a user wants to know.
  deps.logger.info({ taskId: task.id, turn: index, tool_calls: toolCallCount, usage: answer.usage }, 'model answer');
  const turn: TurnRecord = {
    index,
    llm: {
      started_at: answer.startedAt,
      finished_at: answer.finishedAt,
      usage: answer.usage,
      tool_call_count: toolCallCount,
      finish_reason: answer.finishReason,
    },
    tool_calls: [],
  };
  task.messages.push(answer.message);
  task.turns.push(turn);
  task.usage.prompt_tokens += answer.usage.prompt_tokens;
  task.usage.completion_tokens += answer.usage.completion_tokens;
  task.usage.llm_calls += 1;
  await emitModelFinished(deps.events, task.id, turn);
  return turn;
}

async function fanOutTurn(
  deps: TaskStepDeps,
  task: TaskRecord,
  turn: TurnRecord,
  calls: NonNullable<AssistantMessage['tool_calls']>,
  fence: StepFence | undefined,
) {
  if (turn.gathered_at !== undefined) return;
  const catalog = await deps.catalog.covering(calls.map((call) => call.function.name));
  turn.fan_out_span ??= reserveSpan(contextOf(task.task_span ?? undefined));
  const plan = planFanOut({
    fanOutId: fanOutId(task.id, turn.index),
    taskId: task.id,
    prefix: deps.fanOut.spaces.of(task.id),
    tenant: task.tenant,
    toolCalls: calls,
    catalog,
    offered: task.tools === null ? null : new Set(task.tools),
    sequential: task.execution === 'sequential',
    trace: injectTraceContext(contextOf(turn.fan_out_span)),
    maxArgumentBytes: deps.maxArgumentBytes,
    ...(task.require_approval === undefined ? {} : { approval: { require: task.require_approval } }),
    ...(task.deadline_at === undefined ? {} : { deadline: task.deadline_at }),
    turn: turn.index,
  });
  turn.tool_calls = plan.slots.map(pendingCallRecord);
  await deps.store.put(task, fence);
  const next = taskStepJobId(task.id, turn.index + 1);
  // Fanned out already by an earlier run of this step: adding the flow again would re-create
  // calls that finished and were removed (workers also refuse to run a call already gathered).
  if (await deps.fanOut.hasTurnJob(task.id, next)) return;
  // Sent before the flow on the same connection, so Redis has the calls queued before a worker can start one.
  const queued = emitFannedOut(deps.events, task.id, turn.index, plan.slots);
  queued.catch(() => undefined);
  await deps.fanOut.enqueue(task.id, { name: TASK_STEP_JOB, jobId: next, data: { taskId: task.id, turn: turn.index + 1, slots: plan.slots } }, plan.children);
  await queued;
}

async function finish(
  deps: TaskStepDeps,
  task: TaskRecord,
  status: 'completed' | 'failed',
  error?: { code: string; message: string },
  fence?: StepFence,
  clientToolCalls: ToolCall[] = [],
) {
  const previous = task.status;
  task.status = status;
  if (error) task.error = error;
  if (clientToolCalls.length > 0) task.client_tool_calls = clientToolCalls;
  await deps.store.put(task, fence);
  await emitTaskFinished(deps.events, task, previous);
  if (task.deadline_at !== undefined) await deps.fanOut.cancelDeadline(task.id);
  emitTaskSpan(task, status, error);
  deps.logger.info({ taskId: task.id, status, turns: task.turns.length, usage: task.usage, error }, 'task finished');
}
