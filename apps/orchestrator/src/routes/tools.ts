import type { ToolList } from '@volley/api-schemas';
import type { FastifyInstance } from 'fastify';
import { mayUseTool } from '../auth/caller.ts';
import type { ToolCatalog } from '../tools/tool-catalog.ts';

export function registerToolRoutes(app: FastifyInstance, deps: { catalog: ToolCatalog }): void {
  app.get('/v1/tools', async (request): Promise<ToolList> => {
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
  });
}
