import { failedResult, toolCallResultSchema, toolQueueName, type ToolCallResult } from '@volley/shared';
import type { Job } from 'bullmq';
import type { FanInSlot } from './plan-fan-out.ts';

/**
 * The fan-in: one result per slot, in the model's order. BullMQ hands children values keyed
 * by `<prefix>:<queue>:<job id>` in hash order, so each slot looks its job up by key.
 */
export async function gatherFanIn(job: Job, slots: readonly FanInSlot[], prefix: string): Promise<ToolCallResult[]> {
  const routed = slots.some((slot) => 'job_id' in slot);
  const [values, failures] = routed
    ? await Promise.all([job.getChildrenValues(), job.getIgnoredChildrenFailures()])
    : [{}, {}];
  return slots.map((slot) => {
    if ('result' in slot) return slot.result;
    const key = `${prefix}:${toolQueueName(slot.pool)}:${slot.job_id}`;
    const value = (values as Record<string, unknown>)[key];
    if (value !== undefined) {
      const parsed = toolCallResultSchema.safeParse(value);
      if (parsed.success && parsed.data.tool_call_id === slot.tool_call_id) return parsed.data;
      return failedResult(slot.tool_call_id, { code: 'tool_crashed', message: 'the worker returned a malformed result' });
    }
    const reason = (failures as Record<string, string>)[key];
    return failedResult(slot.tool_call_id, {
      code: 'tool_crashed',
      message: reason ? `the call failed: ${reason}` : 'the call finished without a result',
    });
  });
}
