import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolError } from '@volley/shared';

/**
 * What the model reads of a `tools/call` result. `structuredContent` is the result when
 * present: the spec asks servers to repeat it as text in `content` for older clients, so both
 * would say it twice. Otherwise the content parts in order, text as it is and any other part
 * (image, audio, resource, resource link) as its JSON, one part a line. `isError: true` is the
 * tool telling the model it failed: an error message, not a result.
 */
export function toolOutputOf(result: CallToolResult, tool: string): string {
  const text = contentText(result);
  if (result.isError === true) throw new ToolError(text || `the MCP tool ${tool} failed and said nothing more`, { code: 'mcp_tool_error' });
  if (result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return text;
}

function contentText(result: CallToolResult): string {
  return result.content.map((part) => (part.type === 'text' ? part.text : JSON.stringify(part))).join('\n');
}
