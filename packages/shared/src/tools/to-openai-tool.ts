import type { Tool } from '@volley/tools';
import { z } from 'zod';
import type { OpenAITool } from '@volley/api-schemas';
import { isZodSchema } from './is-zod-schema.ts';

/** The tool as the model is offered it: an OpenAI function tool with a JSON Schema. */
export function toOpenAITool(tool: Tool): OpenAITool {
  const parameters = isZodSchema(tool.parameters)
    ? (z.toJSONSchema(tool.parameters, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>)
    : tool.parameters;
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters } };
}
