import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolMessage } from '@volley/shared';
import type { CallRecord } from '../tasks/task-record.ts';

/**
 * A call's outcome as an MCP result. The text is what a model reads of it on every other door
 * (the tool message: the tool's output, or the error JSON with its code and a hint), so an MCP
 * host's model sees the same. A JSON object result is also `structuredContent`, for hosts that
 * use it; a failure is `isError`, a tool execution error the model can read and act on, not a
 * protocol error. How it ran (worker, attempts, times) goes in `_meta`.
 */
export function toCallToolResult(message: ToolMessage, call: CallRecord): CallToolResult {
  const { id: _id, name: _name, error: _error, ...ran } = call;
  const failed = call.status === 'failed';
  const structured = failed ? undefined : jsonObjectOf(message.content);
  return {
    content: [{ type: 'text', text: message.content }],
    ...(structured === undefined ? {} : { structuredContent: structured }),
    ...(failed ? { isError: true } : {}),
    _meta: { 'volley/call': ran },
  };
}

function jsonObjectOf(text: string): Record<string, unknown> | undefined {
  // Only text that can be an object is parsed: most results are short strings or objects.
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
