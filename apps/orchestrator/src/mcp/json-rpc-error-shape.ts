import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { rewriteErrorBodies } from '../http/rewrite-error-bodies.ts';

/**
 * An HTTP-level refusal of `/mcp` (no key, Redis down, a body too deep or too large) as the
 * JSON-RPC error the SDK's own transport answers with, `{jsonrpc, error: {code, message}, id:
 * null}`, so an MCP client reports it as it reports its server's errors; Volley's stable code
 * is in `error.data.code`. The HTTP status and headers (`www-authenticate`, `retry-after`) stay.
 */
export function jsonRpcErrorBody(status: number, code: string, message: string) {
  return { jsonrpc: '2.0', error: { code: jsonRpcCodeOf(status, code), message, data: { code } }, id: null };
}

export function answerErrorsInJsonRpcShape(scope: FastifyInstance): void {
  rewriteErrorBodies(scope, jsonRpcErrorBody);
}

function jsonRpcCodeOf(status: number, code: string): number {
  if (code === 'invalid_json') return ErrorCode.ParseError;
  if (status === 400 || status === 413 || status === 415) return ErrorCode.InvalidRequest;
  // JSON-RPC's range for errors of the server's own, which the SDK's transport uses for HTTP-level ones.
  return -32000;
}
