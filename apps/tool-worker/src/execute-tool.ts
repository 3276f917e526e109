import type { CallError } from '@volley/shared';
import { ToolError, type ToolContext } from '@volley/tools';
import type { LoadedTool } from './tool-set.ts';

/** Thrown (only) to make BullMQ retry a call whose tool said the failure is retryable. */
export class RetryableToolFailure extends Error {
  override name = 'RetryableToolFailure';
}

/** A call of a cancelled task that never ran. */
export const CANCELLED_ERROR: CallError = { code: 'cancelled', message: 'the call was cancelled with its task; it did not run' };

export type CallOutcome = { content: string } | { error: CallError } | { retry: string };

export interface ExecuteOptions {
  timeoutMs: number;
  /** Abort the call from outside: job cancellation, a lost lock (a ToolError reason is the error). */
  abort?: readonly AbortSignal[];
  /** Whether a retryable ToolError may be retried (attempts are left). */
  canRetry: boolean;
  /**
   * The largest result kept, in UTF-8 bytes of the text the model will read (`VOLLEY_MAX_RESULT_BYTES`);
   * no bound when absent.
   */
  maxResultBytes?: number;
  /**
   * Told when the call answers (timeout, abort) while the tool's body still runs, with a
   * promise that settles when the body does (it never rejects). A call holding locks keeps them
   * until then.
   */
  onOverrun?: (body: Promise<unknown>) => void;
}

/**
 * Runs the tool under its deadline. A tool that ignores its signal does not hold the worker
 * slot: the race answers at the deadline and the tool's promise is left to settle on its own
 * (`onOverrun` hears of it).
 * One controller and one cleared timer per call, listening to the outer signals itself:
 * `AbortSignal.timeout` would leave a timer alive for the whole timeout after every call, and
 * `AbortSignal.any` is slow on a hot path.
 */
export async function executeTool(
  loaded: LoadedTool,
  args: Record<string, unknown>,
  ctx: Omit<ToolContext, 'signal'>,
  options: ExecuteOptions,
): Promise<CallOutcome> {
  if (options.timeoutMs <= 0) {
    return { error: { code: 'tool_timeout', message: 'the call reached its deadline before it started' } };
  }
  const outer = options.abort ?? [];
  const early = outer.find((signal) => signal.aborted);
  if (early) return abortedOutcome(false, early.reason, options);
  const controller = new AbortController();
  let timedOut = false;
  let settle: ((outcome: CallOutcome) => void) | undefined;
  const aborted = new Promise<CallOutcome>((resolve) => {
    settle = resolve;
  });
  let body: Promise<CallOutcome> | undefined;
  let overran = false;
  // Only reached when an answer comes before the body settled: the hot path pays nothing.
  const answer = (outcome: CallOutcome) => {
    if (!settle) return;
    settle(outcome);
    settle = undefined;
    overran = true;
    if (body) options.onOverrun?.(body);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new ToolError(`the tool did not finish within ${options.timeoutMs} ms`, { code: 'tool_timeout' }));
    answer(abortedOutcome(true, undefined, options));
  }, options.timeoutMs);
  const onOuterAbort = (event: Event) => {
    const reason: unknown = (event.target as AbortSignal).reason;
    controller.abort(reason);
    answer(abortedOutcome(timedOut, reason, options));
  };
  for (const signal of outer) signal.addEventListener('abort', onOuterAbort, { once: true });
  body = run(loaded, args, { ...ctx, signal: controller.signal }, options);
  // Aborted while the body was still starting (synchronously): it overran all the same.
  if (overran) options.onOverrun?.(body);
  try {
    return await Promise.race([aborted, body]);
  } finally {
    clearTimeout(timer);
    for (const signal of outer) signal.removeEventListener('abort', onOuterAbort);
  }
}

function abortedOutcome(timedOut: boolean, reason: unknown, options: ExecuteOptions): CallOutcome {
  if (timedOut) return { error: { code: 'tool_timeout', message: `the tool did not finish within ${options.timeoutMs} ms` } };
  if (ToolError.isInstance(reason)) return { error: { code: reason.code, message: reason.message } };
  return { error: { code: 'cancelled', message: 'the call was cancelled' } };
}

async function run(loaded: LoadedTool, args: Record<string, unknown>, ctx: ToolContext, options: ExecuteOptions): Promise<CallOutcome> {
  let output: unknown;
  try {
    output = await loaded.tool.execute(args, ctx);
  } catch (error) {
    if (ToolError.isInstance(error)) {
      if (error.retryable && options.canRetry) return { retry: error.message };
      return { error: { code: error.code, message: error.message } };
    }
    return { error: { code: 'tool_error', message: error instanceof Error ? error.message : String(error) } };
  }
  let content: string;
  try {
    content = typeof output === 'string' ? output : (JSON.stringify(output) ?? 'null');
  } catch (error) {
    return { error: { code: 'result_not_serializable', message: `the tool's result is not JSON: ${(error as Error).message}` } };
  }
  return boundedContent(content, options.maxResultBytes);
}

/**
 * A result is stored three times over (the job's return value, its fan-in's, the task's
 * transcript) and sent to the model on every later turn: one past the bound is an error the
 * model can act on (ask for less) rather than a write of any size. The tool did run, so the
 * error says so; it is not retried, as running the tool again would answer as much.
 */
function boundedContent(content: string, maxBytes: number | undefined): CallOutcome {
  if (maxBytes === undefined) return { content };
  const bytes = Buffer.byteLength(content, 'utf8');
  if (bytes <= maxBytes) return { content };
  return {
    error: {
      code: 'result_too_large',
      message: `the tool ran, but its result is ${bytes} bytes, more than this worker keeps (VOLLEY_MAX_RESULT_BYTES: ${maxBytes}); the result was dropped`,
    },
  };
}
