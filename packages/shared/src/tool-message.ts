import type { ToolMessage } from '@volley/api-schemas';
import type { ToolCallResult } from './queue/tool-call-job.ts';

/**
 * The one place that decides what the model reads for a call. Errors are JSON the model can
 * parse, with a hint to fix the call: it is the model's own retry loop.
 */
export function toToolMessage(result: ToolCallResult): ToolMessage {
  if (result.ok) return { role: 'tool', tool_call_id: result.tool_call_id, content: result.content };
  const { code, message } = result.error;
  return {
    role: 'tool',
    tool_call_id: result.tool_call_id,
    content: JSON.stringify({ error: { code, message, hint: hintFor(code) } }),
  };
}

function hintFor(code: string): string {
  switch (code) {
    case 'invalid_arguments_json':
    case 'arguments_not_object':
    case 'arguments_schema_violation':
    case 'arguments_too_deep':
    case 'arguments_too_large':
      return 'The call was not run. Fix the arguments to match the tool schema and call it again.';
    case 'unknown_tool':
      return 'The call was not run. Call only the tools you were given, spelled exactly.';
    case 'denied':
      return 'The call was not run: a person denied it. Read the reason, and do not repeat the call unchanged.';
    case 'approval_required':
      return "The call was not run: it needs a person's approval, which this request did not carry.";
    case 'approval_timeout':
      return 'The call was not run: nobody approved it in time.';
    case 'tool_timeout':
      return 'The tool did not finish in time.';
    case 'result_too_large':
      return 'The tool ran, but its result was too large to keep. Ask for less: narrow the request, or fetch the result in parts.';
    case 'mcp_server_unavailable':
      return 'The server behind this tool was down; the call may or may not have taken effect. Calling it again may work.';
    default:
      return 'The tool failed.';
  }
}
