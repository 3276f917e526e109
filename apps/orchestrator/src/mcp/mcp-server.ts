import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, CancelledNotificationSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import packageJson from '../../package.json' with { type: 'json' };
import { mayUseTool } from '../auth/caller.ts';
import { callTool, cancelMcpCall } from './call-tool.ts';
import type { McpDeps, McpRequestContext } from './mcp-deps.ts';
import { toMcpError } from './mcp-error.ts';
import { toMcpTool } from './mcp-tool.ts';

const INSTRUCTIONS =
  'The tools of a Volley cluster: each call runs on a tool worker, with its locks, limits and deadline. ' +
  'Calls made at once run at once, so independent calls are best made together.';

/**
 * The MCP server of one HTTP request (stateless: nothing outlives the request). The low-level
 * `Server`, not `McpServer`: the tools are the caller's part of a catalog that changes as
 * workers come and go, with JSON Schemas the workers validate against, where `McpServer` wants
 * each tool registered up front with a zod schema it validates itself.
 */
export function createMcpServer(deps: McpDeps, context: McpRequestContext): Server {
  const server = new Server(
    { name: 'volley', version: packageJson.version },
    // No list_changed: a stateless server has no stream to send it on; hosts list again.
    { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS },
  );
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw toMcpError(error, deps);
    }
  };
  server.setRequestHandler(ListToolsRequestSchema, () =>
    guarded(async () => {
      const catalog = await deps.catalog.refresh();
      return { tools: [...catalog.values()].filter((entry) => mayUseTool(context.caller, entry.tool.function.name)).map(toMcpTool) };
    }),
  );
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => guarded(() => callTool(deps, context, request, extra)));
  // Replaces the SDK's own handler, which aborts a request of this connection only: here the
  // request it names is running on another connection, maybe on another instance.
  server.setNotificationHandler(CancelledNotificationSchema, (notification) =>
    cancelMcpCall(deps, context, notification.params.requestId).catch((error: unknown) =>
      deps.logger.warn({ err: error, requestId: notification.params.requestId }, 'mcp cancel not applied'),
    ),
  );
  return server;
}
