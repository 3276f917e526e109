import {
  ATTR,
  contextOf,
  crashedResult,
  emitReservedSpan,
  failedResult,
  isTracingEnabled,
  linkTo,
  SpanKind,
  toolCallResultSchema,
  toolCallJobKey,
  tracer,
  type ReservedSpan,
  type ToolCallResult,
} from '@volley/shared';
import type { Job } from 'bullmq';
import type { FanInSlot } from './plan-fan-out.ts';

/**
 * The fan-in: one result per slot, in the model's order. BullMQ hands children values keyed
 * by `<prefix>:<queue>:<job id>` in hash order, so each slot looks its job up by key.
 */
export async function gatherFanIn(
  job: Job,
  slots: readonly FanInSlot[],
  prefix: string,
  traced?: { fanOutSpan: ReservedSpan; attributes: Record<string, string | number> },
): Promise<ToolCallResult[]> {
  const startedAt = Date.now();
  const results = await collect(job, slots, prefix);
  if (traced && isTracingEnabled()) traceFanIn(traced.fanOutSpan, traced.attributes, results, startedAt, job.queueName);
  return results;
}

/**
 * The fan-in span, a child of the fan-out span with a link to each call's `execute_tool`
 * span; then the fan-out span itself, which lasted from the enqueue to here. `from`: where the
 * results were gathered from (a queue, or a bare fan-out's inbox).
 */
export function traceFanIn(fanOutSpan: ReservedSpan, attributes: Record<string, string | number>, results: ToolCallResult[], startedAt: number, from: string) {
  const links = results.flatMap((result) =>
    result.span ? [linkTo(result.span.trace_id, result.span.span_id, { [ATTR.genAiToolCallId]: result.tool_call_id })] : [],
  );
  const gather = tracer.startSpan(
    `gather ${from}`,
    {
      kind: SpanKind.CONSUMER,
      startTime: startedAt,
      links,
      attributes: { ...attributes, ...messaging('process', 'gather', results.length) },
    },
    contextOf(fanOutSpan),
  );
  gather.end();
  emitReservedSpan(fanOutSpan, {
    name: `fan_out ${results.length} tool calls`,
    kind: SpanKind.PRODUCER,
    attributes: { ...attributes, ...messaging('send', 'fan_out', results.length) },
  });
}

function messaging(type: 'send' | 'process', operation: string, count: number) {
  return {
    [ATTR.messagingSystem]: 'bullmq',
    [ATTR.messagingOperationType]: type,
    [ATTR.messagingOperationName]: operation,
    [ATTR.messagingBatchCount]: count,
  };
}

async function collect(job: Job, slots: readonly FanInSlot[], prefix: string): Promise<ToolCallResult[]> {
  const keyOf = (slot: Extract<FanInSlot, { job_id: string }>) => toolCallJobKey(prefix, slot.pool, slot.job_id);
  const routed = slots.filter((slot): slot is Extract<FanInSlot, { job_id: string }> => 'job_id' in slot);
  const values: Record<string, unknown> = routed.length > 0 ? await job.getChildrenValues() : {};
  // Failed children are rare (their workers kept dying): only then is their reason worth a read.
  const failures: Record<string, string> = routed.some((slot) => values[keyOf(slot)] === undefined) ? await job.getIgnoredChildrenFailures() : {};
  return slots.map((slot) => {
    if ('result' in slot) return slot.result;
    const key = keyOf(slot);
    const value = values[key];
    if (value !== undefined) {
      const parsed = toolCallResultSchema.safeParse(value);
      if (parsed.success && parsed.data.tool_call_id === slot.tool_call_id) return parsed.data;
      return failedResult(slot.tool_call_id, { code: 'tool_crashed', message: 'the worker returned a malformed result' });
    }
    const reason = failures[key];
    return reason
      ? crashedResult(slot.tool_call_id, reason)
      : failedResult(slot.tool_call_id, { code: 'tool_crashed', message: 'the call finished without a result' });
  });
}
