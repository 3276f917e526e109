import { toolListSchema } from '@volley/api-schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { mayUseTool } from '../auth/caller.ts';
import { errorResponses } from '../http/error-responses.ts';
import type { ToolCatalog } from '../tools/tool-catalog.ts';
import { TOOLS_EXAMPLE } from './examples.ts';

export function registerToolRoutes(app: FastifyInstance, deps: { catalog: ToolCatalog }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/tools',
    {
      schema: {
        tags: ['tools'],
        operationId: 'listTools',
        summary: 'The tools live workers serve',
        description: "Those the caller's API key may use, in the OpenAI `tools` format, with where and how they run.",
        response: { 200: toolListSchema.describe('The tools').meta({ examples: [TOOLS_EXAMPLE] }), ...errorResponses({}) },
      },
    },
    async (request) => {
      const catalog = await deps.catalog.refresh();
      return {
        tools: [...catalog.values()]
          .filter((entry) => mayUseTool(request.caller, entry.tool.function.name))
          .map((entry) => ({
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
