import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { errorBody } from '@volley/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { answerErrorsInJsonRpcShape, jsonRpcErrorBody } from '../mcp/json-rpc-error-shape.ts';
import type { McpDeps } from '../mcp/mcp-deps.ts';
import { createMcpServer } from '../mcp/mcp-server.ts';
import { MCP_SESSION_HEADER, newSessionId, sessionIdOf } from '../mcp/mcp-session.ts';

export const MCP_PATH = '/mcp';

/**
 * `/mcp`: Volley as an MCP server over Streamable HTTP, in the SDK's stateless mode. Each POST
 * gets a server and a transport of its own, so any orchestrator answers any request. Auth,
 * the Redis gate, the body limits and the depth guard run ahead of it as on every route (the
 * body is parsed by Fastify and handed over); their refusals leave in JSON-RPC's shape.
 */
export function registerMcpRoutes(app: FastifyInstance, deps: McpDeps): void {
  void app.register(async (scope) => {
    answerErrorsInJsonRpcShape(scope);
    scope.post(MCP_PATH, async (request, reply) => {
      const session = sessionIdOf(request.headers);
      const version = request.headers['mcp-protocol-version'];
      const server = createMcpServer(deps, {
        caller: request.caller,
        session,
        protocolVersion: typeof version === 'string' ? version : undefined,
        traceContext: request.traceContext,
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      // Closing the transport aborts the handlers still running, which cancels their calls.
      reply.raw.once('close', () => void server.close());
      await server.connect(transport);
      if (isInitializeRequest(request.body)) reply.raw.setHeader(MCP_SESSION_HEADER, newSessionId());
      reply.hijack();
      try {
        await transport.handleRequest(request.raw, reply.raw, request.body);
      } catch (error) {
        // Past the hijack Fastify's error handler cannot answer: a failure of the transport itself.
        deps.logger.error({ err: error }, 'mcp request failed in its transport');
        if (reply.raw.headersSent) reply.raw.end();
        else reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(jsonRpcErrorBody(500, 'internal_error', 'internal error')));
      }
    });
    // Stateless: no stream of server-initiated messages to open with GET, no session to end with DELETE.
    const methodNotAllowed = async (_request: unknown, reply: FastifyReply) =>
      reply.status(405).header('allow', 'POST').send(errorBody('method_not_allowed', `${MCP_PATH} takes POST only: Volley's MCP server is stateless`));
    scope.get(MCP_PATH, methodNotAllowed);
    scope.delete(MCP_PATH, methodNotAllowed);
  });
}
