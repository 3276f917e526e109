import {
  ATTR,
  callIdempotencyKey,
  context,
  extractTraceContext,
  isTracingEnabled,
  markError,
  recordSpan,
  SpanKind,
  toolCallJobDataSchema,
  trace,
  tracer,
  type CallError,
  type FanInReplies,
  type Logger,
  type ToolCallJobData,
  type ToolCallResult,
} from '@volley/shared';
import type { Job } from 'bullmq';
import type { CallEvents } from './call-events.ts';
import { CANCELLED_ERROR, executeTool, RetryableToolFailure, type CallOutcome } from './execute-tool.ts';
import { gateApproval, type ApprovalGateDeps } from './approvals/approval-gate.ts';
import { runLockedCall, type LockedCall, type LockingDeps } from './locks/run-locked-call.ts';
import { UNKNOWN_TOOL_LABEL, type CallTimings, type ToolCallMetrics } from './metrics/tool-call-metrics.ts';
import type { Pickup, PickupCheck } from './pickup-check.ts';
import { prepareCall, type PreparedCall } from './prepare-call.ts';
import type { ToolSet } from './tool-set.ts';

export { RetryableToolFailure };

export interface ToolCallRunnerDeps {
  tools: ToolSet;
  workerId: string;
  defaultTimeoutMs: number;
  maxArgumentDepth: number;
  /** `VOLLEY_MAX_RESULT_BYTES`: a result larger than this is answered `result_too_large` (see executeTool). */
  maxResultBytes: number;
  logger: Logger;
  /** Needed by calls that take resource locks. */
  locking?: LockingDeps;
  /** Calls cancelled before they reached this worker; calls running here are tracked for its poll. */
  cancelled?: { has(jobId: string | undefined): boolean; track(jobId: string, taskId: string): { signal: AbortSignal; stop(): void } };
  /** The durable checks made before a call runs (its task ended, its fan-in already has it). */
  pickup?: PickupCheck;
  /** Needed by calls that may need a person's approval (see gateApproval). */
  approvals?: ApprovalGateDeps;
  /** Told of every call that finishes here, with where its time went. */
  metrics?: ToolCallMetrics;
  /** The task events of task calls (see `CallEvents`); none are emitted without it. */
  events?: CallEvents;
  /** Where the results of bare fan-outs' calls go (their `reply_to`); needed to serve them. */
  replies?: FanInReplies;
}

type Finished = { content: string } | { error: CallError };
type RunGrant = Parameters<LockedCall['run']>[0];
type ReadyCall = Extract<PreparedCall, { ok: true }>;

/**
 * The BullMQ processor for tool-call jobs: parse → find tool → validate → (lock) → execute
 * under a deadline → result value. Every failure of the call becomes an `ok: false` result so
 * the parent's gather always gets one result per call. It throws only to make BullMQ retry a
 * retryable tool error, or (DelayedError) when a call parks to wait for a resource.
 */
export function createToolCallProcessor(deps: ToolCallRunnerDeps) {
  const processCall = async (
    job: Job,
    token: string | undefined,
    /** The job's own (BullMQ) and its cancel's. */
    callSignals: AbortSignal[],
    data: ToolCallJobData,
    pickedUp: Promise<Pickup> | undefined,
  ): Promise<ToolCallResult> => {
    const startedAt = Date.now();
    const attempt = job.attemptsMade + (job.stalledCounter ?? 0) + 1;
    const timings: CallTimings = {};
    let prepared = prepareCall(deps.tools, data, deps.maxArgumentDepth);
    // The pick-up check's round trip ran while the arguments were parsed and validated.
    const pickup = (await pickedUp) ?? { kind: 'run', ended: false };
    if (pickup.kind === 'gathered') {
      deps.logger.warn(
        { taskId: data.taskId, toolCallId: data.toolCallId, jobId: job.id },
        'call already gathered was enqueued again; answered from its fan-in, not run',
      );
      return pickup.result;
    }
    if (pickup.kind === 'orphaned') {
      deps.logger.warn({ taskId: data.taskId, toolCallId: data.toolCallId, jobId: job.id }, 'call whose fan-in is over was enqueued again; not run');
      return finish(data.toolCallId, startedAt, attempt, { error: { code: 'cancelled', message: 'the fan-in of this call is over; it did not run' } });
    }
    const cancelled = pickup.ended || (deps.cancelled?.has(job.id) ?? false);
    // Asked by a call that just parked, which a cancel finding it still active did not wake; the
    // cancel set the ended mark before it looked, so this look sees it.
    const takenBack = async (): Promise<boolean> => {
      if (callSignals.some((signal) => signal.aborted)) return true;
      const now = await deps.pickup?.check(job, data);
      return now !== undefined && (now.kind !== 'run' || now.ended);
    };
    // A call that needs approval runs only once approved (it parks until then), maybe with edited
    // arguments; a denied one is answered like a call with bad arguments.
    let approvedAt: number | undefined;
    if (prepared.ok && !cancelled && deps.approvals) {
      const gate = await gateApproval(deps.approvals, {
        job,
        token,
        data,
        prepared,
        tools: deps.tools,
        maxArgumentDepth: deps.maxArgumentDepth,
        locking: deps.locking,
        takenBack,
      });
      if (gate.kind === 'answer') prepared = { ok: false, error: gate.error };
      else if (gate.prepared) prepared = gate.prepared;
      approvedAt = gate.kind === 'run' ? gate.decidedAt : undefined;
    }
    const idempotencyKey = callIdempotencyKey(String(job.id), data.toolCallId);
    const canRetry = attempt < (job.opts.attempts ?? 1);
    const sink = deps.events?.forCall(data, String(job.id), deps.workerId);
    let toolSpan: { trace_id: string; span_id: string } | undefined;
    const run = async (grant: RunGrant): Promise<CallOutcome> => {
      if (!prepared.ok) return { error: prepared.error };
      sink?.started(attempt);
      const pickedUpAt = grant.waits?.registeredAt ?? startedAt;
      timings.queueWaitMs = pickedUpAt - job.timestamp;
      if (grant.waits) timings.lockWaitMs = grant.waits.acquiredAt - grant.waits.registeredAt;
      // Spans only when they go somewhere: building them is most of this function's own cost.
      return isTracingEnabled() ? traced(grant, prepared, pickedUpAt) : timed(grant, prepared);
    };
    const traced = async (grant: RunGrant, call: ReadyCall, pickedUpAt: number): Promise<CallOutcome> => {
      const parent = extractTraceContext(data.trace);
      recordSpan(`wait queue ${job.queueName}`, parent, job.timestamp, pickedUpAt, { [ATTR.genAiToolCallId]: data.toolCallId });
      if (grant.waits) recordSpan('wait lock', parent, grant.waits.registeredAt, grant.waits.acquiredAt, { [ATTR.genAiToolCallId]: data.toolCallId });
      const attributes = {
        [ATTR.genAiOperation]: 'execute_tool',
        [ATTR.genAiToolName]: data.name,
        [ATTR.genAiToolCallId]: data.toolCallId,
        [ATTR.genAiToolType]: 'function',
        [ATTR.messagingSystem]: 'bullmq',
        [ATTR.messagingDestination]: job.queueName,
        [ATTR.messagingMessageId]: String(job.id),
        [ATTR.taskId]: data.taskId,
        [ATTR.workerId]: deps.workerId,
        [ATTR.attempt]: attempt,
        [ATTR.queueWaitMs]: Math.max(0, timings.queueWaitMs!),
        ...(timings.lockWaitMs === undefined ? {} : { [ATTR.lockWaitMs]: timings.lockWaitMs }),
      };
      const span = tracer.startSpan(`execute_tool ${data.name}`, { kind: SpanKind.INTERNAL, attributes }, parent);
      if (span.isRecording()) toolSpan = { trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId };
      const outcome = await context.with(trace.setSpan(parent, span), () => timed(grant, call));
      if ('error' in outcome) markError(span, outcome.error);
      span.end();
      return outcome;
    };
    const timed = async (grant: RunGrant, call: ReadyCall): Promise<CallOutcome> => {
      const runStartedAt = performance.now();
      const outcome = await executeTool(
        call.loaded,
        call.args,
        {
          toolCallId: data.toolCallId,
          taskId: data.taskId,
          attempt,
          workerId: deps.workerId,
          tenant: data.tenant ?? null,
          idempotencyKey,
          progress: sink ? sink.progress : noProgress,
          ...(grant.fencingToken === undefined ? {} : { fencingToken: grant.fencingToken }),
        },
        {
          timeoutMs: remainingTime(call, data, deps.defaultTimeoutMs),
          canRetry,
          maxResultBytes: deps.maxResultBytes,
          abort: grant.lockAbort ? [...callSignals, grant.lockAbort] : callSignals,
          onOverrun: grant.onOverrun,
        },
      );
      timings.runMs = performance.now() - runStartedAt;
      return outcome;
    };

    let result: ToolCallResult;
    if (data.lock) {
      if (!deps.locking) throw new Error('this worker cannot run calls that take resource locks');
      result = await runLockedCall(deps.locking, {
        job,
        token,
        data,
        lock: data.lock,
        prepared,
        cancelled,
        idempotencyKey,
        ...(approvedAt === undefined ? {} : { waitFrom: approvedAt }),
        run,
        takenBack,
        ...(sink ? { onPark: () => sink.waitingLock() } : {}),
        finish: (outcome, timing) =>
          finish(data.toolCallId, timing?.startedAt ?? Date.now(), attempt, outcome, { lockWaitMs: timing?.lockWaitMs, span: toolSpan }),
      });
    } else if (cancelled) {
      result = finish(data.toolCallId, startedAt, attempt, { error: CANCELLED_ERROR });
    } else {
      const outcome = await run({});
      if ('retry' in outcome) throw new RetryableToolFailure(outcome.retry);
      result = finish(data.toolCallId, startedAt, attempt, outcome, { span: toolSpan });
    }
    // A call answered without reaching its tool (bad arguments, cancelled) was picked up just now.
    if (timings.queueWaitMs === undefined && !data.lock) timings.queueWaitMs = startedAt - job.timestamp;
    // Before the job completes: a call's tool_call.finished always comes before its turn.gathered.
    await sink?.finished(result);
    deps.metrics?.finished(deps.tools.has(data.name) ? data.name : UNKNOWN_TOOL_LABEL, result, timings);
    deps.logger.debug({ taskId: data.taskId, toolCallId: data.toolCallId, tool: data.name, ok: result.ok }, 'tool call finished');
    return result;
  };

  return async (job: Job, token?: string, jobSignal?: AbortSignal): Promise<ToolCallResult> => {
    const attempt = job.attemptsMade + (job.stalledCounter ?? 0) + 1;
    const parsedData = toolCallJobDataSchema.safeParse(job.data);
    if (!parsedData.success) {
      deps.logger.error({ jobId: job.id, issues: parsedData.error.issues }, 'malformed tool-call job');
      const toolCallId = typeof job.data?.toolCallId === 'string' ? job.data.toolCallId : String(job.id);
      const result = finish(toolCallId, Date.now(), attempt, { error: { code: 'invalid_request', message: 'malformed tool-call job' } });
      deps.metrics?.finished(UNKNOWN_TOOL_LABEL, result, {});
      return result;
    }
    const data = parsedData.data;
    const pickedUp = deps.pickup?.check(job, data);
    const tracked = deps.cancelled?.track(String(job.id), data.taskId);
    let result: ToolCallResult;
    try {
      result = await processCall(
        job,
        token,
        [jobSignal, tracked?.signal].filter((signal) => signal !== undefined),
        data,
        pickedUp,
      );
    } finally {
      tracked?.stop();
    }
    if (data.reply_to !== undefined) {
      if (!deps.replies) throw new Error('this worker cannot answer calls of bare fan-outs');
      if (!(await deps.replies.deliver(job, token, data.reply_to, data.taskId, result))) {
        deps.logger.warn(
          { taskId: data.taskId, toolCallId: data.toolCallId, jobId: job.id },
          "result of a run that lost its job's lock not delivered: its redelivery answers",
        );
      }
    }
    return result;
  };

  function finish(
    toolCallId: string,
    startedAt: number,
    attempt: number,
    outcome: Finished,
    extra: { lockWaitMs?: number | undefined; span?: { trace_id: string; span_id: string } | undefined } = {},
  ): ToolCallResult {
    const { lockWaitMs, span } = extra;
    const timing = {
      tool_call_id: toolCallId,
      started_at: startedAt,
      finished_at: Date.now(),
      worker_id: deps.workerId,
      attempts: attempt,
      ...(lockWaitMs === undefined ? {} : { lock_wait_ms: lockWaitMs }),
      ...(span ? { span } : {}),
    };
    return 'content' in outcome ? { ok: true as const, content: outcome.content, ...timing } : { ok: false as const, error: outcome.error, ...timing };
  }
}

function noProgress(): void {}

function remainingTime(prepared: ReadyCall, data: ToolCallJobData, defaultTimeoutMs: number): number {
  const own = prepared.loaded.tool.timeoutMs ?? defaultTimeoutMs;
  return data.deadline === undefined ? own : Math.min(own, data.deadline - Date.now());
}
