import type { ReservedSpan } from '@volley/api-schemas';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { newSpanId, newTraceId, withForcedIds } from './span-ids.ts';

export { SpanKind, context, trace };
export type { Context, Link, Span };

export const tracer = trace.getTracer('volley');

let tracingEnabled = false;
/** Called by startTelemetry: only then are trace ids worth recording. */
export function markTracingEnabled(): void {
  tracingEnabled = true;
}
export function isTracingEnabled(): boolean {
  return tracingEnabled;
}

// A reserved span's wire form (the task record keeps them) is @volley/api-schemas' `reservedSpanSchema`.
export { reservedSpanSchema } from '@volley/api-schemas';
export type { ReservedSpan } from '@volley/api-schemas';

/** Undefined while tracing is off: there is nothing to emit later, so nothing to reserve. */
export function reserveSpan(parent: Context, start = Date.now()): ReservedSpan | undefined {
  if (!tracingEnabled) return undefined;
  const parentSpan = trace.getSpanContext(parent);
  return {
    trace_id: parentSpan?.traceId ?? newTraceId(),
    span_id: newSpanId(),
    parent_span_id: parentSpan?.spanId ?? null,
    start,
  };
}

/** A context whose active span is the reserved one, for its children. */
export function contextOf(reserved: ReservedSpan | undefined): Context {
  if (!reserved || !tracingEnabled) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, spanContextOf(reserved.trace_id, reserved.span_id));
}

function spanContextOf(traceId: string, spanId: string): SpanContext {
  return { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
}

/** Emits a reserved span now that it is over, under the id its children already name. */
export function emitReservedSpan(
  reserved: ReservedSpan,
  options: { name: string; kind?: SpanKind; attributes?: Attributes; links?: Link[]; end?: number; error?: { code: string; message: string } },
): void {
  if (!tracingEnabled) return;
  const parent = reserved.parent_span_id ? trace.setSpanContext(ROOT_CONTEXT, spanContextOf(reserved.trace_id, reserved.parent_span_id)) : ROOT_CONTEXT;
  const span = withForcedIds({ traceId: reserved.trace_id, spanId: reserved.span_id }, () =>
    tracer.startSpan(
      options.name,
      {
        kind: options.kind ?? SpanKind.INTERNAL,
        startTime: reserved.start,
        ...(options.attributes ? { attributes: options.attributes } : {}),
        ...(options.links ? { links: options.links } : {}),
      },
      parent,
    ),
  );
  if (options.error) markError(span, options.error);
  span.end(options.end ?? Date.now());
}

/**
 * Runs `fn` in a span that is always ended; a thrown error is recorded on it (exception event,
 * status ERROR) and rethrown.
 */
export async function inSpan<T>(
  name: string,
  options: { parent: Context; kind?: SpanKind; attributes?: Attributes; startTime?: number },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer.startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
    },
    options.parent,
  );
  try {
    return await context.with(trace.setSpan(options.parent, span), () => fn(span));
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'error';
    markError(span, { code, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** Records a failure on a span: an exception event, `error.type`, status ERROR. */
export function markError(span: Span, error: { code: string; message: string }): void {
  span.recordException({ name: error.code, message: error.message });
  span.setAttribute('error.type', error.code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/** A span that lasted from `start` to `end`, both already known. */
export function recordSpan(name: string, parent: Context, start: number, end: number, attributes?: Attributes): void {
  if (!tracingEnabled || end < start) return;
  tracer.startSpan(name, { startTime: start, ...(attributes ? { attributes } : {}) }, parent).end(end);
}

/** W3C trace context of `ctx`, to carry in job data across processes. */
export function injectTraceContext(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

export function extractTraceContext(carrier: Record<string, string> | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

export function linkTo(traceId: string, spanId: string, attributes?: Attributes): Link {
  return { context: spanContextOf(traceId, spanId), ...(attributes ? { attributes } : {}) };
}

/** Attribute names: OpenTelemetry GenAI and messaging conventions, plus Volley's own. */
export const ATTR = {
  genAiOperation: 'gen_ai.operation.name',
  genAiProvider: 'gen_ai.provider.name',
  genAiRequestModel: 'gen_ai.request.model',
  genAiResponseModel: 'gen_ai.response.model',
  genAiInputTokens: 'gen_ai.usage.input_tokens',
  genAiOutputTokens: 'gen_ai.usage.output_tokens',
  genAiFinishReasons: 'gen_ai.response.finish_reasons',
  genAiToolName: 'gen_ai.tool.name',
  genAiToolCallId: 'gen_ai.tool.call.id',
  genAiToolType: 'gen_ai.tool.type',
  genAiAgentName: 'gen_ai.agent.name',
  mcpMethodName: 'mcp.method.name',
  mcpProtocolVersion: 'mcp.protocol.version',
  jsonRpcRequestId: 'jsonrpc.request.id',
  networkTransport: 'network.transport',
  messagingSystem: 'messaging.system',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingDestination: 'messaging.destination.name',
  messagingMessageId: 'messaging.message.id',
  messagingBatchCount: 'messaging.batch.message_count',
  taskId: 'volley.task_id',
  turn: 'volley.turn',
  workerId: 'volley.worker_id',
  pool: 'volley.pool',
  queueWaitMs: 'volley.queue_wait_ms',
  lockWaitMs: 'volley.lock_wait_ms',
  attempt: 'volley.attempt',
} as const;
