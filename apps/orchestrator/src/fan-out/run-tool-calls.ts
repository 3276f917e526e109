import { randomUUID } from 'node:crypto';
import type { ToolCallsAnswer, ToolCallsBody } from '@volley/api-schemas';
import {
  contextOf,
  crashedResult,
  failedResult,
  injectTraceContext,
  isTracingEnabled,
  reserveSpan,
  toToolMessage,
  VolleyError,
  type Context,
  type Logger,
  type ToolCallJobData,
  type ToolCallResult,
} from '@volley/shared';
import { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ToolCatalog } from '../tools/tool-catalog.ts';
import { finishedCallRecord } from './call-record.ts';
import { markFanOutEnded } from './end-fan-out.ts';
import type { FanInInbox } from './fan-in-inbox.ts';
import type { FanInWait, FanInWaiters } from './fan-in-waiters.ts';
import type { FanOutQueue } from './fan-out-queue.ts';
import { traceFanIn } from './gather-fan-in.ts';
import { planFanOut, type FanInSlot, type FanOutPlan } from './plan-fan-out.ts';
import { withdrawCalls, type QueuedJob } from './withdraw-calls.ts';

export { toolCallsBodySchema, toolCallsAnswerSchema } from '@volley/api-schemas';
export type { ToolCallsBody, ToolCallsAnswer } from '@volley/api-schemas';

/** What a fan-out runs: a tool-calls body, less how the route delivers its answer. */
export type FanOutBody = Omit<ToolCallsBody, 'stream'>;

/** A new bare fan-out's id (its calls' `taskId`), for a caller that names it before it runs. */
export function newFanOutId(): string {
  return `tc-${randomUUID()}`;
}

export interface RunToolCallsDeps {
  catalog: ToolCatalog;
  fanOut: FanOutQueue;
  fanInWaiters: FanInWaiters;
  /** Where the calls of this process's fan-outs send their results. */
  inbox: Pick<FanInInbox, 'address'>;
  redis: Redis;
  logger: Logger;
  limits: { maxToolCalls: number; defaultTimeoutMs: number; maxArgumentBytes: number };
}

export interface RunToolCallsOptions {
  /**
   * The fan-out's id (its calls' `taskId`), for a caller that must be able to name it from
   * elsewhere, e.g. to cancel it (see `cancelFanOut`). Unique per fan-out: reusing a running
   * fan-out's id joins it. Default: a new random id.
   */
  fanOutId?: string;
  /** The calls report on the fan-out's event stream, which the caller reads while it runs. */
  events?: boolean;
}

/**
 * Workers end their calls at the deadline themselves (a running call is aborted, a parked or
 * queued one answers without running); this is how long their answers get to arrive before the
 * request answers from what it knows.
 */
const DEADLINE_SLACK_MS = 150;

/**
 * One fan-out without a model: the ToolNode of LangGraph as a service. At `timeout_ms` it
 * answers: every finished result is kept, every unfinished call is a `tool_timeout` (or
 * `lock_timeout` when it never got its locks) error message, and what is left of it is
 * withdrawn from the queues and lock lines.
 */
export async function runToolCalls(
  deps: RunToolCallsDeps,
  body: FanOutBody,
  traceContext: Context,
  /** Tools the caller may call (null: all); calls to others are `unknown_tool` errors. */
  allowed: ReadonlySet<string> | null = null,
  /** The caller's tenant (null with auth off): the calls' lock keys and `ctx.tenant`. */
  tenant: string | null = null,
  /** Told just before the calls go on the queues (nothing was enqueued when it was not called). */
  beforeEnqueue: () => void = () => undefined,
  options: RunToolCallsOptions = {},
): Promise<ToolCallsAnswer> {
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
  const deadline = Date.now() + timeoutMs;
  const id = options.fanOutId ?? newFanOutId();
  const catalog = await deps.catalog.covering(calls.map((call) => call.function.name));
  const fanOutSpan = reserveSpan(traceContext);
  const plan = planFanOut({
    fanOutId: id,
    taskId: id,
    prefix: deps.fanOut.spaces.of(id),
    tenant,
    toolCalls: calls,
    catalog,
    offered: allowed,
    deadline,
    sequential: body.execution === 'sequential',
    trace: injectTraceContext(contextOf(fanOutSpan)),
    maxArgumentBytes: deps.limits.maxArgumentBytes,
    events: options.events ?? false,
    replyTo: deps.inbox.address,
    ...(body.approved ? { approval: { approved: new Set(body.approved) } } : {}),
  });
  deps.logger.debug({ fanOut: id, tool_calls: calls.length, routed: plan.children.length }, 'fan-out');

  let results = plan.slots.map((slot) => ('result' in slot ? slot.result : undefined));
  if (plan.children.length > 0) {
    const routed = plan.slots.filter((slot): slot is RoutedSlot => 'job_id' in slot);
    // Waited for before the enqueue: a call may finish before the enqueue's reply is even read here.
    const waiting = deps.fanInWaiters.wait(
      id,
      routed.map((slot) => slot.tool_call_id),
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      beforeEnqueue();
      await deps.fanOut.enqueueCalls(
        id,
        plan.children,
        routed.map((slot) => ({ pool: slot.pool, jobId: slot.job_id })),
        deadline + DEADLINE_SLACK_MS,
      );
      const waitMs = deadline + DEADLINE_SLACK_MS - Date.now();
      const atDeadline = new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, waitMs, undefined);
      });
      // Calls whose results never come (their workers died with them) are answered at the
      // deadline from what Redis holds.
      const gathered = await Promise.race([waiting.all, atDeadline]);
      if (!gathered) await answerAtDeadline(deps, id, plan, waiting, timeoutMs);
      results = plan.slots.map((slot, index) => results[index] ?? waiting.received.get(slot.tool_call_id));
    } finally {
      clearTimeout(timer);
      deps.fanInWaiters.forget(id);
    }
    if (fanOutSpan && isTracingEnabled()) {
      const gathered = results.filter((result) => result !== undefined);
      traceFanIn(fanOutSpan, {}, gathered, Date.now(), 'fan-in-inbox');
    }
  }
  const finished = results.map((result, index) => result ?? missing(plan.slots[index]!.tool_call_id));
  return {
    messages: finished.map(toToolMessage),
    calls: plan.slots.map((slot, index) => finishedCallRecord(slot, finished[index]!)),
  };
}

type RoutedSlot = Extract<FanInSlot, { job_id: string }>;

/** How long a result still on its way gets once the deadline passed (its job completed: it was delivered). */
const DELIVERY_GRACE_MS = 250;

/**
 * The fan-out reached its deadline with calls unanswered: its ended mark goes up first (no call
 * of it starts from now on), then each unanswered call is answered from its job's state (`waiting`
 * gets the answers) and what is left is withdrawn.
 */
async function answerAtDeadline(deps: RunToolCallsDeps, id: string, plan: FanOutPlan, waiting: FanInWait, timeoutMs: number): Promise<void> {
  const locking = new Set(plan.children.filter((child) => (child.data as ToolCallJobData).lock).map((child) => child.opts.jobId));
  await markFanOutEnded({ redis: deps.redis, spaces: deps.fanOut.spaces }, id, {
    status: 'failed',
    error: { code: 'tool_timeout', message: 'the fan-out reached its timeout_ms' },
  });
  const open = plan.slots.filter((slot): slot is RoutedSlot => 'job_id' in slot && !waiting.received.has(slot.tool_call_id));
  const jobs = await Promise.all(open.map((slot) => Job.fromId(deps.fanOut.toolQueue(slot.pool, id), slot.job_id)));
  // A job gone from its queue completed, and delivered its result before it did.
  if (jobs.some((job) => !job)) await Promise.race([waiting.all, new Promise((resolve) => setTimeout(resolve, DELIVERY_GRACE_MS))]);
  const unfinished: QueuedJob[] = [];
  const answers = await Promise.all(
    open.map(async (slot, index): Promise<ToolCallResult | undefined> => {
      if (waiting.received.has(slot.tool_call_id)) return undefined;
      const job = jobs[index];
      const state = await job?.getState();
      if (state === 'failed') return crashedResult(slot.tool_call_id, job!.failedReason, job!.attemptsMade);
      if (job) unfinished.push({ pool: slot.pool, jobId: slot.job_id });
      if (locking.has(slot.job_id) && state !== 'active') {
        return failedResult(slot.tool_call_id, {
          code: 'lock_timeout',
          message: `the call did not get its resource locks within timeout_ms (${timeoutMs} ms)`,
        });
      }
      return failedResult(
        slot.tool_call_id,
        { code: 'tool_timeout', message: `the call did not finish within timeout_ms (${timeoutMs} ms)` },
        job?.attemptsStarted ?? 0,
      );
    }),
  );
  // What arrived while the jobs were read is kept: `settle` takes no second result of a call.
  deps.fanInWaiters.settle(
    id,
    answers.filter((answer) => answer !== undefined),
  );
  await withdrawCalls(deps, id, unfinished);
  deps.logger.info({ fanOut: id, unfinished: unfinished.length }, 'fan-out answered at its deadline');
}

function missing(toolCallId: string): never {
  throw new VolleyError('internal_error', `no result for tool call ${JSON.stringify(toolCallId)}`);
}
