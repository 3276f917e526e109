import { VolleyError, type JsonSchemaObject, type OpenAITool } from '@volley/shared';
import { mayUseTool, type Caller } from '../auth/caller.ts';
import type { ToolCatalog } from '../tools/tool-catalog.ts';

/** A function tool as either API declares it. */
export interface FunctionDefinition {
  name: string;
  description?: string | undefined;
  parameters?: JsonSchemaObject | null | undefined;
  strict?: boolean | null | undefined;
}

export interface SortedTools {
  /** The cluster's tools to offer by name; null: every tool the caller may use. */
  server: string[] | null;
  /** The caller's own functions: offered, never run here. */
  client: OpenAITool[];
}

const NO_PARAMETERS: JsonSchemaObject = { type: 'object', properties: {} };

/**
 * Splits a request's function tools into the cluster's (a name some live worker serves and the
 * caller may use) and the caller's own. None given: the caller's tools on the cluster. A
 * cluster tool declared with parameters must accept what the cluster's does: the model would
 * otherwise write arguments the worker refuses. Descriptions and titles may differ.
 */
export async function sortTools(catalog: ToolCatalog, caller: Caller, tools: readonly FunctionDefinition[] | undefined): Promise<SortedTools> {
  if (!tools || tools.length === 0) return { server: null, client: [] };
  const served = await catalog.covering(tools.map((tool) => tool.name));
  const server: string[] = [];
  const client: OpenAITool[] = [];
  for (const tool of tools) {
    const entry = mayUseTool(caller, tool.name) ? served.get(tool.name) : undefined;
    if (!entry) {
      client.push({
        type: 'function',
        function: {
          name: tool.name,
          ...(tool.description === undefined ? {} : { description: tool.description }),
          parameters: tool.parameters ?? NO_PARAMETERS,
          ...(typeof tool.strict === 'boolean' ? { strict: tool.strict } : {}),
        },
      });
      continue;
    }
    if (tool.parameters && canonical(tool.parameters) !== canonical(entry.tool.function.parameters)) {
      throw new VolleyError(
        'tool_definition_mismatch',
        `tools: ${JSON.stringify(tool.name)} is a tool the cluster runs, with other parameters than declared here; ` +
          "leave its parameters out (or the tool out: GET /v1/tools lists the cluster's definitions)",
      );
    }
    server.push(tool.name);
  }
  return { server, client };
}

/** Keywords that document a schema without changing what it accepts. */
const ANNOTATIONS = new Set(['$schema', 'description', 'title', 'examples', '$comment']);

/** The schema as text with sorted keys and no annotations: equal text, equal meaning (as far as JSON goes). */
function canonical(schema: unknown): string {
  return JSON.stringify(schema, function (this: unknown, _key, value: unknown) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const inProperties = this !== null && typeof this === 'object' && !Array.isArray(this) && (this as Record<string, unknown>).properties === value;
    return Object.fromEntries(
      Object.entries(value)
        // Under `properties` the keys are field names, not keywords: a field called "title" stays.
        .filter(([key]) => inProperties || !ANNOTATIONS.has(key))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}
