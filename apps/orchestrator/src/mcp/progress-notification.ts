import type { ProgressNotification, ProgressToken } from '@modelcontextprotocol/sdk/types.js';

export type ProgressParams = ProgressNotification['params'];

/**
 * A tool's `ctx.progress(value)` as MCP progress. MCP wants a number that grows with every
 * notification, while a Volley tool reports any JSON: a growing number is taken as it is, an
 * object shaped like MCP's own (`{progress, total?, message?}`) too, and anything else counts
 * one step on from the last, with its JSON as the message so the host still shows what the
 * tool said. A number that does not grow is counted the same way, so the rule always holds.
 */
export function toProgressParams(progressToken: ProgressToken, value: unknown, previous: number): ProgressParams {
  if (typeof value === 'number' && Number.isFinite(value) && value > previous) return { progressToken, progress: value };
  if (isMcpShaped(value) && value.progress > previous) {
    return {
      progressToken,
      progress: value.progress,
      ...(typeof value.total === 'number' && Number.isFinite(value.total) ? { total: value.total } : {}),
      ...(typeof value.message === 'string' ? { message: value.message } : {}),
    };
  }
  return { progressToken, progress: previous + 1, message: typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null') };
}

function isMcpShaped(value: unknown): value is { progress: number; total?: unknown; message?: unknown } {
  return typeof value === 'object' && value !== null && 'progress' in value && typeof value.progress === 'number' && Number.isFinite(value.progress);
}
