import type { CallError, ToolCallJobData } from '@volley/shared';
import { parseArguments } from './parse-arguments.ts';
import type { LoadedTool, ToolSet } from './tool-set.ts';

export type PreparedCall = { ok: true; loaded: LoadedTool; args: Record<string, unknown> } | { ok: false; error: CallError };

/** The call's tool and its validated arguments, or why the call cannot run. */
export function prepareCall(tools: ToolSet, data: ToolCallJobData, maxArgumentDepth: number): PreparedCall {
  const loaded = tools.get(data.name);
  if (!loaded) {
    return { ok: false, error: { code: 'unknown_tool', message: `no tool named ${JSON.stringify(data.name)} on this worker` } };
  }
  const parsed = parseArguments(data.arguments, maxArgumentDepth);
  if (!parsed.ok) return { ok: false, error: parsed.error };
  const valid = loaded.validate(parsed.value);
  if (!valid.ok) {
    return { ok: false, error: { code: 'arguments_schema_violation', message: `arguments do not match the schema: ${valid.message}` } };
  }
  return { ok: true, loaded, args: valid.value };
}
