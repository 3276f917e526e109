import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { errorBody } from '@volley/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { errorResponses } from '../http/error-responses.ts';
import { answerErrorsInJsonRpcShape, jsonRpcErrorBody, jsonRpcErrorBodySchema } from '../mcp/json-rpc-error-shape.ts';
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
const jsonRpcMessageSchema = z
  .looseObject({ jsonrpc: z.literal('2.0') })
  .describe('A JSON-RPC 2.0 message of the Model Context Protocol')
  .meta({
    examples: [
      {
        jsonrpc: '2.0',
        id: 2,
        result: {
          tools: [{ name: 'get_weather', inputSchema: { type: 'object', properties: { city: { type: 'string' } } }, annotations: { readOnlyHint: true } }],
        },
      },
      {
        jsonrpc: '2.0',
        id: 3,
        result: {
          content: [{ type: 'text', text: '{"city":"Paris","temperature":18}' }],
          structuredContent: { city: 'Paris', temperature: 18 },
          isError: false,
        },
      },
    ],
  });

const MCP_STREAM_EXAMPLE =
  'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":2,"total":6}}\n\n' +
  'event: message\ndata: {"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"{\\"steps\\":6}"}],"isError":false}}\n\n';

/** Documented, not parsed here: the SDK's transport reads the JSON-RPC messages itself. */
const postSchema = {
  tags: ['mcp'],
  operationId: 'mcp',
  summary: 'Volley as an MCP server (Streamable HTTP, stateless)',
  description:
    "`initialize`, `tools/list` (the caller's tools, as `GET /v1/tools`) and `tools/call` (one fan-out on the cluster, progress as notifications, " +
    'cancelled by `notifications/cancelled` or by closing the request). Refusals before the MCP server (auth, Redis, body limits) are JSON-RPC errors.',
  response: {
    200: {
      description: 'The JSON-RPC answer, or its Server-Sent Events stream with progress notifications first',
      content: { 'application/json': { schema: jsonRpcMessageSchema }, 'text/event-stream': { schema: z.string().meta({ examples: [MCP_STREAM_EXAMPLE] }) } },
    },
    202: { description: 'A notification or response, accepted', content: { 'application/json': { schema: z.null().meta({ examples: [null] }) } } },
    ...errorResponses({}, { body: true, bodyOf: jsonRpcErrorBodySchema }),
  },
};

const refusedSchema = (method: string) => ({
  tags: ['mcp'],
  operationId: `mcp${method}`,
  summary: `${method.toUpperCase()} is refused: the server is stateless`,
  description: 'No stream of server-initiated messages to open (GET) and no session to end (DELETE).',
  response: errorResponses({ 405: ['method_not_allowed'] }, { bodyOf: jsonRpcErrorBodySchema }),
});

export function registerMcpRoutes(app: FastifyInstance, deps: McpDeps): void {
  void app.register(async (scope) => {
    answerErrorsInJsonRpcShape(scope);
    scope.post(MCP_PATH, { schema: postSchema }, async (request, reply) => {
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
      reply
        .status(405)
        .header('allow', 'POST')
        .send(errorBody('method_not_allowed', `${MCP_PATH} takes POST only: Volley's MCP server is stateless`));
    scope.get(MCP_PATH, { schema: refusedSchema('Get') }, methodNotAllowed);
    scope.delete(MCP_PATH, { schema: refusedSchema('Delete') }, methodNotAllowed);
  });
}
