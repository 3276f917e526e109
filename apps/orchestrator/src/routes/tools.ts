import { openAIToolSchema } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mayUseTool } from '../auth/caller.ts';
import { errorResponses } from '../http/error-responses.ts';
import type { ToolCatalog } from '../tools/tool-catalog.ts';
import { TOOLS_EXAMPLE } from './examples.ts';

const toolsAnswerSchema = z.object({
  tools: z.array(
    openAIToolSchema.extend({
      pool: z.string().describe('The pool whose workers run it.'),
      workers: z.number().int().describe('Live workers serving it.'),
      side_effects: z.boolean(),
      needs_approval: z.union([z.boolean(), z.literal('dynamic')]).optional().describe("Calls wait for a person's approval: always, or depending on their arguments."),
    }),
  ),
});

export function registerToolRoutes(app: FastifyInstance, deps: { catalog: ToolCatalog }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/tools',
    {
      schema: {
        tags: ['tools'],
        operationId: 'listTools',
        summary: 'The tools live workers serve',
        description: 'Those the caller\'s API key may use, in the OpenAI `tools` format, with where and how they run.',
        response: { 200: toolsAnswerSchema.describe('The tools').meta({ examples: [TOOLS_EXAMPLE] }), ...errorResponses({}) },
      },
    },
    async (request) => {
      const catalog = await deps.catalog.refresh();
      return {
        tools: [...catalog.values()].filter((entry) => mayUseTool(request.caller, entry.tool.function.name)).map((entry) => ({
          type: entry.tool.type,
          function: entry.tool.function,
          pool: entry.pool,
          workers: entry.workers,
          side_effects: entry.tool.volley.sideEffects,
          ...(entry.tool.volley.needsApproval === undefined ? {} : { needs_approval: entry.tool.volley.needsApproval }),
        })),
      };
    },
  );
}
