import {
  ToolError,
  toolCallJobDataSchema,
  type CallError,
  type Logger,
  type ToolCallJobData,
  type ToolCallResult,
} from '@volley/shared';
import type { Job } from 'bullmq';
import { parseArguments } from './parse-arguments.ts';
import type { LoadedTool, ToolSet } from './tool-set.ts';

export interface ToolCallRunnerDeps {
  tools: ToolSet;
  workerId: string;
  defaultTimeoutMs: number;
  maxArgumentDepth: number;
  logger: Logger;
}

/** Thrown (only) to make BullMQ retry a call whose tool said the failure is retryable. */
export class RetryableToolFailure extends Error {
  override name = 'RetryableToolFailure';
}

/**
 * The BullMQ processor for tool-call jobs: parse → find tool → validate → execute under a
 * deadline → result value. Every failure of the call becomes an `ok: false` result so the
 * parent's gather always gets one result per call; only a retryable tool error with attempts
 * left is thrown, to let BullMQ back off and retry.
 */
export function createToolCallProcessor(deps: ToolCallRunnerDeps) {
  return async (job: Job, _token?: string, jobSignal?: AbortSignal): Promise<ToolCallResult> => {
    const startedAt = Date.now();
    const parsedData = toolCallJobDataSchema.safeParse(job.data);
    if (!parsedData.success) {
      deps.logger.error({ jobId: job.id, issues: parsedData.error.issues }, 'malformed tool-call job');
      const toolCallId = typeof job.data?.toolCallId === 'string' ? job.data.toolCallId : String(job.id);
      return finish(toolCallId, startedAt, job, { error: { code: 'invalid_request', message: 'malformed tool-call job' } });
    }
    const data = parsedData.data;
    const outcome = await runCall(deps, data, job, jobSignal);
    if ('retry' in outcome) throw new RetryableToolFailure(outcome.retry);
    const result = finish(data.toolCallId, startedAt, job, outcome);
    deps.logger.debug(
      { taskId: data.taskId, toolCallId: data.toolCallId, tool: data.name, ok: result.ok, ms: result.finished_at! - startedAt },
      'tool call finished',
    );
    return result;
  };

  function finish(toolCallId: string, startedAt: number, job: Job, outcome: { content: string } | { error: CallError }) {
    const timing = {
      tool_call_id: toolCallId,
      started_at: startedAt,
      finished_at: Date.now(),
      worker_id: deps.workerId,
      attempts: job.attemptsStarted,
    };
    return 'content' in outcome
      ? { ok: true as const, content: outcome.content, ...timing }
      : { ok: false as const, error: outcome.error, ...timing };
  }
}

type CallOutcome = { content: string } | { error: CallError } | { retry: string };

async function runCall(
  deps: ToolCallRunnerDeps,
  data: ToolCallJobData,
  job: Job,
  jobSignal: AbortSignal | undefined,
): Promise<CallOutcome> {
  const loaded = deps.tools.get(data.name);
  if (!loaded) {
    return { error: { code: 'unknown_tool', message: `no tool named ${JSON.stringify(data.name)} on this worker` } };
  }
  const parsed = parseArguments(data.arguments, deps.maxArgumentDepth);
  if (!parsed.ok) return { error: parsed.error };
  const valid = loaded.validate(parsed.value);
  if (!valid.ok) {
    return { error: { code: 'arguments_schema_violation', message: `arguments do not match the schema: ${valid.message}` } };
  }
  const timeoutMs = remainingTime(loaded, data, deps.defaultTimeoutMs);
  if (timeoutMs <= 0) return { error: { code: 'tool_timeout', message: 'the call reached its deadline before it started' } };
  return execute(loaded, valid.value, data, job, { timeoutMs, workerId: deps.workerId }, jobSignal);
}

function remainingTime(loaded: LoadedTool, data: ToolCallJobData, defaultTimeoutMs: number): number {
  const own = loaded.tool.timeoutMs ?? defaultTimeoutMs;
  return data.deadline === undefined ? own : Math.min(own, data.deadline - Date.now());
}

async function execute(
  loaded: LoadedTool,
  args: Record<string, unknown>,
  data: ToolCallJobData,
  job: Job,
  { timeoutMs, workerId }: { timeoutMs: number; workerId: string },
  jobSignal: AbortSignal | undefined,
): Promise<CallOutcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = jobSignal ? AbortSignal.any([timeout, jobSignal]) : timeout;
  // An already aborted signal never fires 'abort' again: answer now, without running the tool.
  if (signal.aborted) return { error: { code: 'cancelled', message: 'the call was cancelled' } };
  const ctx = { toolCallId: data.toolCallId, taskId: data.taskId, attempt: job.attemptsStarted, signal, workerId };
  let onAbort: (() => void) | undefined;
  // A tool that ignores its signal must not hold the slot: the race answers at the deadline.
  const aborted = new Promise<CallOutcome>((resolve) => {
    onAbort = () =>
      resolve(
        timeout.aborted
          ? { error: { code: 'tool_timeout', message: `the tool did not finish within ${timeoutMs} ms` } }
          : { error: { code: 'cancelled', message: 'the call was cancelled' } },
      );
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([aborted, runExecute(loaded, args, ctx, job)]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

async function runExecute(
  loaded: LoadedTool,
  args: Record<string, unknown>,
  ctx: Parameters<LoadedTool['tool']['execute']>[1],
  job: Job,
): Promise<CallOutcome> {
  let output: unknown;
  try {
    output = await loaded.tool.execute(args, ctx);
  } catch (error) {
    const retriesLeft = (job.opts.attempts ?? 1) - job.attemptsMade - 1;
    if (ToolError.isInstance(error)) {
      if (error.retryable && retriesLeft > 0) return { retry: error.message };
      return { error: { code: error.code, message: error.message } };
    }
    return { error: { code: 'tool_error', message: error instanceof Error ? error.message : String(error) } };
  }
  return render(output);
}

function render(output: unknown): CallOutcome {
  if (typeof output === 'string') return { content: output };
  try {
    return { content: JSON.stringify(output) ?? 'null' };
  } catch (error) {
    return { error: { code: 'result_not_serializable', message: `the tool's result is not JSON: ${(error as Error).message}` } };
  }
}
