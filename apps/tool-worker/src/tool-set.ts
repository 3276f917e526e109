import { isZodSchema, TOOL_NAME_PATTERN, toOpenAITool, type PublishedTool } from '@volley/shared';
import type { Tool } from '@volley/tools';
import { z } from 'zod';
import { compileArgumentValidator, type ArgumentValidator } from './argument-validator.ts';

export interface LoadedTool {
  tool: Tool;
  validate: ArgumentValidator;
  published: PublishedTool;
}

/** The tools one worker runs, by name. A Map, so names like `__proto__` find nothing. */
export type ToolSet = ReadonlyMap<string, LoadedTool>;

const toolShapeSchema = z.object({
  name: z.string().regex(TOOL_NAME_PATTERN, 'tool names match ^[a-zA-Z0-9_-]{1,64}$'),
  description: z.string(),
  parameters: z.custom<object>(
    (value) => isZodSchema(value) || (typeof value === 'object' && value !== null && !Array.isArray(value)),
    'parameters must be a zod schema or a JSON Schema object',
  ),
  execute: z.custom<Tool['execute']>((value) => typeof value === 'function', 'execute must be a function'),
  sideEffects: z.boolean().optional(),
  resources: z.custom((value) => typeof value === 'function', 'resources must be a function').optional(),
  needsApproval: z.union([z.boolean(), z.custom((value) => typeof value === 'function', 'needsApproval must be a boolean or a function')]).optional(),
  // Timers take at most 2^31 - 1 ms (about 24.8 days).
  timeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
  retries: z.number().int().min(0).max(20).optional(),
});

export class ToolDefinitionError extends Error {
  override name = 'ToolDefinitionError';
}

/** A tool as found in a module, with where it came from for error messages. */
export interface ToolSource {
  tool: unknown;
  source: string;
}

/** Checks each tool's shape, compiles its validator once, and refuses duplicate names. */
export function createToolSet(sources: readonly ToolSource[]): ToolSet {
  const set = new Map<string, LoadedTool>();
  const sourceOf = new Map<string, string>();
  for (const { tool: candidate, source } of sources) {
    const shape = toolShapeSchema.safeParse(candidate);
    if (!shape.success) {
      throw new ToolDefinitionError(`${source}: invalid tool: ${z.prettifyError(shape.error)}`);
    }
    const tool = candidate as Tool;
    const first = sourceOf.get(tool.name);
    if (first !== undefined) throw new ToolDefinitionError(`${source}: duplicate tool name "${tool.name}" (${first} has it too)`);
    sourceOf.set(tool.name, source);
    let validate: ArgumentValidator;
    try {
      validate = compileArgumentValidator(tool);
    } catch (error) {
      throw new ToolDefinitionError(`${source}: tool "${tool.name}" has unusable parameters: ${(error as Error).message}`);
    }
    const openAITool = toOpenAITool(tool);
    set.set(tool.name, {
      tool,
      validate,
      published: {
        ...openAITool,
        volley: {
          sideEffects: tool.sideEffects ?? false,
          locks: tool.sideEffects === true || tool.resources !== undefined,
          ...(tool.timeoutMs === undefined ? {} : { timeoutMs: tool.timeoutMs }),
          retries: tool.retries ?? 0,
          ...(tool.needsApproval === undefined || tool.needsApproval === false
            ? {}
            : { needsApproval: typeof tool.needsApproval === 'function' ? ('dynamic' as const) : true }),
        },
      },
    });
  }
  return set;
}
