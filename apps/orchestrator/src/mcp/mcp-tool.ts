import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { CatalogEntry } from '../tools/tool-catalog.ts';

/**
 * A catalog tool as an MCP host lists it. `sideEffects` is the only effect Volley knows of a
 * tool: without it the tool changes nothing (`readOnlyHint`); with it, nothing says the change
 * is only additive, so it may be destructive. Idempotence is not claimed: Volley dedupes the
 * retries of one call, not two calls with the same arguments.
 */
export function toMcpTool(entry: CatalogEntry): Tool {
  const { name, description, parameters } = entry.tool.function;
  const { sideEffects, needsApproval } = entry.tool.volley;
  return {
    name,
    ...(description === undefined ? {} : { description }),
    // Arguments are always an object (a worker refuses anything else), which MCP requires the
    // schema to say; a JSON Schema tool may have left `type` out.
    inputSchema: { ...parameters, type: 'object' },
    annotations: sideEffects ? { readOnlyHint: false, destructiveHint: true } : { readOnlyHint: true },
    // A host cannot answer Volley's approval over MCP: such calls come back `approval_required`.
    ...(needsApproval === undefined ? {} : { _meta: { 'volley/needs_approval': needsApproval } }),
  };
}
