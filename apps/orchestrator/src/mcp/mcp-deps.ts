import type { Context } from '@volley/shared';
import type { Caller } from '../auth/caller.ts';
import type { EventStreamDeps } from '../events/event-streams.ts';
import type { RunToolCallsDeps } from '../fan-out/run-tool-calls.ts';
import type { RedisGate } from '../http/redis-gate.ts';

/** What the `/mcp` door needs: the engine's fan-out, the event streams it reads progress from. */
export type McpDeps = RunToolCallsDeps & {
  eventStreams: EventStreamDeps;
  redisGate: RedisGate;
};

/** Who one MCP request is from, and what it carries besides its JSON-RPC message. */
export interface McpRequestContext {
  caller: Caller;
  /** The session id the host echoes (see `MCP_SESSION_HEADER`); undefined when it sent none. */
  session: string | undefined;
  /** The revision the host speaks (its `mcp-protocol-version` header), for traces. */
  protocolVersion: string | undefined;
  /** The HTTP request's span, parent of the call's fan-out. */
  traceContext: Context;
}
