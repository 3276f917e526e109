import { toolListSchema, type ListedTool } from '@volley/api-schemas';
import { VolleyApiError } from '../volley-api-error.ts';
import type { VolleyClient } from '../volley-client.ts';

export interface ServedToolsOptions {
  /** Only these tools, in this order; one that no live worker serves (or the key may not use) is an error. */
  names?: readonly string[] | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The tools an adapter offers its framework: `GET /v1/tools`, read once. A name asked for and
 * not served fails here, when the agent is built, rather than as an `unknown_tool` answer the
 * model gets on its first call.
 */
export async function servedTools(client: VolleyClient, options: ServedToolsOptions = {}): Promise<ListedTool[]> {
  const parsed = toolListSchema.safeParse(await client.listTools({ signal: options.signal }));
  if (!parsed.success) throw new VolleyApiError(200, 'invalid_response', `GET /v1/tools: the answer is not a tool list: ${parsed.error.message}`);
  const tools = parsed.data.tools;
  if (options.names === undefined) return tools;
  const byName = new Map(tools.map((tool) => [tool.function.name, tool]));
  const missing = options.names.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new VolleyApiError(200, 'unknown_tool', `GET /v1/tools: no live worker serves ${missing.map((name) => JSON.stringify(name)).join(', ')} to this key`);
  }
  return options.names.map((name) => byName.get(name)!);
}

/** A tool asks for a person unless it never does: `"dynamic"` is decided by the worker, so the framework asks for every call. */
export function mayNeedApproval(tool: ListedTool): boolean {
  return tool.needs_approval === true || tool.needs_approval === 'dynamic';
}
