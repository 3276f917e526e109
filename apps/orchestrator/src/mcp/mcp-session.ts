import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { VolleyError } from '@volley/shared';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';

/**
 * Orchestrators keep no MCP session: any instance serves any request, with no affinity. The
 * session id Volley hands out at `initialize` is a label the host echoes on every request, not
 * state: with it, a call's fan-out id follows from (tenant, session, JSON-RPC id), so the
 * instance that receives a `notifications/cancelled` (a POST of its own, maybe to another
 * instance) can name the fan-out it cancels without asking anyone.
 */
export const MCP_SESSION_HEADER = 'mcp-session-id';

/** What the spec allows in a session id: visible ASCII. Ours are 22 characters. */
const sessionIdSchema = z.string().regex(/^[\x21-\x7E]{1,256}$/);

export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

/** The session id a request carries (undefined: none); one Volley could not have given is a 400. */
export function sessionIdOf(headers: IncomingHttpHeaders): string | undefined {
  const value = headers[MCP_SESSION_HEADER];
  if (value === undefined) return undefined;
  const parsed = sessionIdSchema.safeParse(value);
  if (!parsed.success) throw new VolleyError('invalid_request', `${MCP_SESSION_HEADER} must be 1 to 256 visible ASCII characters`);
  return parsed.data;
}

/**
 * The fan-out a `tools/call` runs as. A JSON-RPC id is unique within its session while the
 * request runs (the spec requires it), the tenant keeps one tenant's cancel off another's
 * calls, and `1` and `"1"` are different ids. Without a session nothing could name the call
 * later, so it gets a random id and is cancelled only by its own request closing.
 */
export function mcpFanOutId(tenant: string | null, session: string | undefined, requestId: RequestId): string {
  if (session === undefined) return `mcp-${randomUUID()}`;
  return `mcp-${createHash('sha256')
    .update(JSON.stringify([tenant, session, requestId]))
    .digest('hex')
    .slice(0, 32)}`;
}
