import { randomUUID } from 'node:crypto';
import {
  assistantMessageSchema,
  contextOf,
  injectTraceContext,
  reserveSpan,
  toToolMessage,
  VolleyError,
  type Context,
  type Logger,
  type ToolMessage,
} from '@volley/shared';
import type { QueueEvents } from 'bullmq';
import { z } from 'zod';
import type { CallRecord } from '../tasks/task-record.ts';
import type { ToolCatalog } from '../tools/tool-catalog.ts';
import { finishedCallRecord } from './call-record.ts';
import type { FanInWaiters } from './fan-in-waiters.ts';
import type { FanOutQueue } from './fan-out-queue.ts';
import { planFanOut } from './plan-fan-out.ts';

export const FAN_IN_JOB = 'fan-in';

export const toolCallsBodySchema = z.strictObject({
  message: assistantMessageSchema,
  timeout_ms: z.number().int().positive().max(3_600_000).optional(),
  execution: z.enum(['parallel', 'sequential']).default('parallel'),
});
export type ToolCallsBody = z.infer<typeof toolCallsBodySchema>;

export interface RunToolCallsDeps {
  catalog: ToolCatalog;
  fanOut: FanOutQueue;
  turnEvents: QueueEvents;
  fanInWaiters: FanInWaiters;
  logger: Logger;
  limits: { maxToolCalls: number; defaultTimeoutMs: number; maxArgumentBytes: number };
}

/** Beyond the deadline the fan-in has this long to arrive before the request gives up. */
const FAN_IN_GRACE_MS = 5_000;

/**
 * One fan-out without a model: the ToolNode of LangGraph as a service. Calls past the
 * deadline are aborted by their workers and come back as timeout errors.
 */
export async function runToolCalls(
  deps: RunToolCallsDeps,
  body: ToolCallsBody,
  traceContext: Context,
  /** Tools the caller may call (null: all); calls to others are `unknown_tool` errors. */
  allowed: ReadonlySet<string> | null = null,
): Promise<{ messages: ToolMessage[]; calls: CallRecord[] }> {
  const calls = body.message.tool_calls ?? [];
  if (calls.length === 0) throw new VolleyError('no_tool_calls', 'message.tool_calls must hold at least one tool call');
  if (calls.length > deps.limits.maxToolCalls) {
    throw new VolleyError('too_many_tool_calls', `message holds ${calls.length} tool calls; the limit is ${deps.limits.maxToolCalls}`);
  }
  const seen = new Set<string>();
  for (const call of calls) {
    if (seen.has(call.id)) throw new VolleyError('duplicate_tool_call_id', `tool_call id ${JSON.stringify(call.id)} appears more than once`);
    seen.add(call.id);
  }
  const timeoutMs = body.timeout_ms ?? deps.limits.defaultTimeoutMs;
  const id = `tc-${randomUUID()}`;
  const catalog = await deps.catalog.covering(calls.map((call) => call.function.name));
  const fanOutSpan = reserveSpan(traceContext);
  const plan = planFanOut({
    fanOutId: id,
    taskId: id,
    toolCalls: calls,
    catalog,
    offered: allowed,
    deadline: Date.now() + timeoutMs,
    sequential: body.execution === 'sequential',
    trace: injectTraceContext(contextOf(fanOutSpan)),
    maxArgumentBytes: deps.limits.maxArgumentBytes,
  });
  deps.logger.debug({ fanOut: id, tool_calls: calls.length, routed: plan.children.length }, 'fan-out');

  let results = plan.slots.map((slot) => ('result' in slot ? slot.result : undefined));
  if (plan.children.length > 0) {
    const parent = await deps.fanOut.enqueue(
      { name: FAN_IN_JOB, jobId: id, data: { slots: plan.slots, ...(fanOutSpan ? { fan_out_span: fanOutSpan } : {}) } },
      plan.children,
    );
    const fromEvent = parent.waitUntilFinished(deps.turnEvents, timeoutMs + FAN_IN_GRACE_MS);
    // When the in-memory hand-over wins, the event's promise may still time out: not an error.
    fromEvent.catch(() => undefined);
    try {
      results = await Promise.race([deps.fanInWaiters.wait(id), fromEvent]);
    } catch (error) {
      throw new VolleyError('fanout_timeout', `the tool calls did not all finish within ${timeoutMs + FAN_IN_GRACE_MS} ms`, { cause: error });
    } finally {
      deps.fanInWaiters.forget(id);
    }
  }
  const finished = results.map((result, index) => result ?? missing(plan.slots[index]!.tool_call_id));
  return {
    messages: finished.map(toToolMessage),
    calls: plan.slots.map((slot, index) => finishedCallRecord(slot, finished[index]!)),
  };
}

function missing(toolCallId: string): never {
  throw new VolleyError('internal_error', `no result for tool call ${JSON.stringify(toolCallId)}`);
}
