import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import type { ErrorCode as VolleyErrorCode } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
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

/** The documented schema of `jsonRpcErrorBody` (see `errorResponses`' `bodyOf`). */
export function jsonRpcErrorBodySchema(codes: readonly VolleyErrorCode[]) {
  return z.object({
    jsonrpc: z.literal('2.0'),
    error: z.object({
      code: z.number().int().describe('JSON-RPC error code'),
      message: z.string(),
      data: z.object({ code: z.string().describe(`Volley's error code: ${codes.map((code) => `\`${code}\``).join(', ')}`) }),
    }),
    id: z.null(),
  });
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
