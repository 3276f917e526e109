import {
  failedResult,
  lockTicket,
  toolCallJobId,
  toolQueueName,
  type ApprovalRule,
  type ToolCall,
  type ToolCallJobData,
  type ToolCallResult,
} from '@volley/shared';
import type { FlowChildJob } from './fan-out-queue.ts';
import type { Catalog } from '../tools/tool-catalog.ts';

/**
 * One slot per tool call, in the model's order. A slot either names the job that runs the
 * call or already holds its result (a call that cannot be routed never becomes a job).
 */
export type FanInSlot = { tool_call_id: string; name: string; pool: string; job_id: string } | { tool_call_id: string; name: string; result: ToolCallResult };

export interface FanOutPlan {
  slots: FanInSlot[];
  children: FlowChildJob[];
}

export interface PlanInput {
  fanOutId: string;
  taskId: string;
  /** The key space of the task's shard, where its calls' queues are (lock tickets name them). */
  prefix: string;
  toolCalls: readonly ToolCall[];
  catalog: Catalog;
  /** Tool names the model was offered; calls to anything else are unknown. Null: the whole catalog. */
  offered: ReadonlySet<string> | null;
  deadline?: number;
  /** The task turn the calls belong to (see `taskGatheredKey`); absent for bare fan-outs. */
  turn?: number;
  /** The tenant the calls act for (the task's, or the caller's); null or absent when auth is off. */
  tenant?: string | null;
  /** Run the calls one at a time, in model order (every call takes the message's sequence lock). */
  sequential?: boolean;
  /** Trace context every call carries: its spans are children of the turn's fan-out span. */
  trace?: Record<string, string>;
  /**
   * Approval beyond the tools' own: the task's rule, and the calls approved in advance (by id).
   * The worker decides, since `needsApproval` may depend on the validated arguments.
   */
  approval?: { require?: ApprovalRule; approved?: ReadonlySet<string> };
  /** Larger arguments (UTF-8 bytes) are refused here, before they are copied into Redis. */
  maxArgumentBytes: number;
  /** A bare fan-out whose calls report on its event stream anyway (see `ToolCallJobData.events`). */
  events?: boolean;
  /** The inbox a bare fan-out's calls deliver their results to (see `ToolCallJobData.reply_to`). */
  replyTo?: string;
}

export function planFanOut(input: PlanInput): FanOutPlan {
  const slots: FanInSlot[] = [];
  const children: FlowChildJob[] = [];
  const sequential = input.sequential ?? false;
  const lockers: ToolCallJobData[] = [];
  input.toolCalls.forEach((call, index) => {
    const name = call.function.name;
    const entry = input.offered && !input.offered.has(name) ? undefined : input.catalog.get(name);
    if (!entry) {
      slots.push({
        tool_call_id: call.id,
        name,
        result: failedResult(call.id, { code: 'unknown_tool', message: `no tool named ${JSON.stringify(name)} is available` }),
      });
      return;
    }
    const size = Buffer.byteLength(call.function.arguments, 'utf8');
    if (size > input.maxArgumentBytes) {
      const message = `arguments are ${size} bytes; the limit is ${input.maxArgumentBytes}`;
      slots.push({ tool_call_id: call.id, name, result: failedResult(call.id, { code: 'arguments_too_large', message }) });
      return;
    }
    const jobId = toolCallJobId(input.fanOutId, index);
    const data: ToolCallJobData = {
      taskId: input.taskId,
      toolCallId: call.id,
      name,
      arguments: call.function.arguments,
      ...(input.deadline === undefined ? {} : { deadline: input.deadline }),
      ...(input.turn === undefined ? {} : { turn: input.turn }),
      ...(typeof input.tenant === 'string' ? { tenant: input.tenant } : {}),
      ...(input.events && input.turn === undefined ? { events: true as const } : {}),
      ...(input.replyTo === undefined ? {} : { reply_to: input.replyTo }),
      ...(input.trace && Object.keys(input.trace).length > 0 ? { trace: input.trace } : {}),
    };
    const approval = approvalOf(input.approval, call.id);
    if (approval) data.approval = approval;
    if (sequential || entry.tool.volley.locks) {
      data.lock = { group: input.fanOutId, rank: lockers.length, siblings: [], sequential };
      lockers.push(data);
    }
    slots.push({ tool_call_id: call.id, name, pool: entry.pool, job_id: jobId });
    children.push({
      name,
      queueName: toolQueueName(entry.pool),
      data,
      // A tool without retries leaves BullMQ's default of one attempt: less for every add to pack
      // and for its script to unpack and store.
      opts: entry.tool.volley.retries > 0 ? { jobId, attempts: entry.tool.volley.retries + 1, backoff: { type: 'exponential', delay: 250 } } : { jobId },
    });
  });
  // Every locking call knows all of its message's locking calls, in model order: the worker
  // that declares the last of them puts the whole message in line at once.
  const siblings = children.flatMap((child) =>
    (child.data as ToolCallJobData).lock ? [lockTicket(`${input.prefix}:${child.queueName}`, child.opts.jobId)] : [],
  );
  for (const data of lockers) data.lock!.siblings = siblings;
  return { slots, children };
}

function approvalOf(approval: PlanInput['approval'], toolCallId: string): ToolCallJobData['approval'] {
  if (!approval) return undefined;
  if (approval.approved?.has(toolCallId)) return { approved: true };
  return approval.require === undefined ? undefined : { require: approval.require };
}
