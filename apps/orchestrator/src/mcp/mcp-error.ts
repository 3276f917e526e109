import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { VolleyError, type Logger } from '@volley/shared';
import type { RedisGate } from '../http/redis-gate.ts';
import { isRedisUnavailable } from '../http/redis-unavailable.ts';

/**
 * What an MCP request's handler failed with, as the JSON-RPC error the host gets: Volley's
 * stable code in `data.code`, a client's mistake as invalid params, a Redis that did not answer
 * as the route's 503 would say it (and the Redis gate closes, as on every route), anything else
 * logged with its stack and answered with a generic message. The handler runs inside the MCP
 * SDK, past Fastify's error handler, so this is that handler's counterpart.
 */
export function toMcpError(error: unknown, deps: { logger: Logger; redisGate: RedisGate }): McpError {
  if (error instanceof McpError) return error;
  if (isRedisUnavailable(error)) {
    deps.logger.debug({ err: error }, 'mcp request failed: redis unavailable');
    deps.redisGate.markUnavailable(error);
    return new McpError(ErrorCode.InternalError, 'Redis did not answer in time; retry shortly', { code: 'redis_unavailable' });
  }
  if (VolleyError.isInstance(error)) {
    if (error.status >= 500) deps.logger.error({ err: error }, 'mcp request failed');
    return new McpError(error.status < 500 ? ErrorCode.InvalidParams : ErrorCode.InternalError, error.message, { code: error.code });
  }
  deps.logger.error({ err: error }, 'mcp request failed');
  return new McpError(ErrorCode.InternalError, 'internal error', { code: 'internal_error' });
}
