import {
  ErrorCode,
  McpError,
  type CallToolRequest,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ATTR, extractTraceContext, inSpan, markError, SpanKind, trace, type Context } from '@volley/shared';
import { mayUseTool } from '../auth/caller.ts';
import { cancelFanOut } from '../fan-out/cancel-fan-out.ts';
import { runToolCalls, type FanOutBody } from '../fan-out/run-tool-calls.ts';
import { toCallToolResult } from './call-tool-result.ts';
import type { McpDeps, McpRequestContext } from './mcp-deps.ts';
import { mcpFanOutId } from './mcp-session.ts';
import { relayProgress } from './progress-relay.ts';

export type McpRequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * `tools/call`: the call is a fan-out of one on the cluster, the engine call `POST /v1/tool-calls`
 * makes (routing, locks, deadline, tracing, the tenant's keys). With a progress token, its
 * worker's `ctx.progress` reports come back as progress notifications. A request that goes away
 * (its stream closed, which the SDK turns into `extra.signal`) cancels the call; so does a
 * `notifications/cancelled`, wherever it lands (see `cancelMcpCall`).
 */
export async function callTool(deps: McpDeps, context: McpRequestContext, request: CallToolRequest, extra: McpRequestExtra): Promise<CallToolResult> {
  const { name } = request.params;
  const attributes = {
    [ATTR.mcpMethodName]: 'tools/call',
    [ATTR.jsonRpcRequestId]: String(extra.requestId),
    [ATTR.genAiToolName]: name,
    [ATTR.genAiOperation]: 'execute_tool',
    [ATTR.networkTransport]: 'tcp',
    ...(context.protocolVersion === undefined ? {} : { [ATTR.mcpProtocolVersion]: context.protocolVersion }),
  };
  const parent = traceContextOf(request, context.traceContext);
  return inSpan(`tools/call ${name}`, { parent, kind: SpanKind.SERVER, attributes }, async (span) => {
    const catalog = await deps.catalog.covering([name]);
    // A tool the caller may not use is as unknown to it as one no worker serves.
    if (!catalog.has(name) || !mayUseTool(context.caller, name)) {
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`, { code: 'unknown_tool' });
    }
    const fanOutId = mcpFanOutId(context.caller.tenant, context.session, extra.requestId);
    span.setAttribute(ATTR.taskId, fanOutId);
    const { messages, calls } = await runCall(deps, context, request, extra, fanOutId, trace.setSpan(parent, span));
    const call = calls[0]!;
    if (call.error) markError(span, call.error);
    return toCallToolResult(messages[0]!, call);
  });
}

async function runCall(deps: McpDeps, context: McpRequestContext, request: CallToolRequest, extra: McpRequestExtra, fanOutId: string, traceContext: Context) {
  const progressToken = request.params._meta?.progressToken;
  const relay =
    progressToken === undefined
      ? undefined
      : relayProgress(deps, fanOutId, progressToken, (params) => extra.sendNotification({ method: 'notifications/progress', params }));
  const cancel = () => {
    cancelFanOut(deps, fanOutId).catch((error: unknown) => deps.logger.warn({ err: error, fanOut: fanOutId }, 'mcp call not cancelled'));
  };
  extra.signal.addEventListener('abort', cancel, { once: true });
  try {
    return await runToolCalls(
      deps,
      oneCall(fanOutId, request.params.name, request.params.arguments),
      traceContext,
      context.caller.tools,
      context.caller.tenant,
      undefined,
      {
        fanOutId,
        events: relay !== undefined,
      },
    );
  } finally {
    extra.signal.removeEventListener('abort', cancel);
    await relay?.finish().catch((error: unknown) => deps.logger.warn({ err: error, fanOut: fanOutId }, 'progress relay did not finish'));
  }
}

/** `notifications/cancelled`, received by whichever instance: the call it names is cancelled. */
export async function cancelMcpCall(deps: McpDeps, context: McpRequestContext, requestId: string | number | undefined): Promise<void> {
  // Without a session id no request id names one call (see `mcpFanOutId`): the spec lets a
  // receiver ignore what it cannot match; such a host cancels by closing the request instead.
  if (context.session === undefined || requestId === undefined) return;
  await cancelFanOut(deps, mcpFanOutId(context.caller.tenant, context.session, requestId));
}

function oneCall(id: string, name: string, args: Record<string, unknown> | undefined): FanOutBody {
  return {
    message: { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name, arguments: JSON.stringify(args ?? {}) } }] },
    execution: 'parallel',
  };
}

/**
 * A host may carry its trace in the request's `_meta` (`traceparent`, `tracestate`), which names
 * this call more closely than the HTTP request's headers; the call's spans then join that trace.
 */
function traceContextOf(request: CallToolRequest, fallback: Context): Context {
  const meta = request.params._meta;
  if (typeof meta?.traceparent !== 'string') return fallback;
  return extractTraceContext({ traceparent: meta.traceparent, ...(typeof meta.tracestate === 'string' ? { tracestate: meta.tracestate } : {}) });
}
