import { extractTraceContext, markError, SpanKind, trace, tracer, type Context, type Span } from '@volley/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span as a parent context for what the route starts. */
    traceContext: Context;
  }
}

const spans = new WeakMap<FastifyRequest, Span>();

/**
 * One SERVER span per request (a W3C `traceparent` from the client is honoured), so a task's
 * trace starts at the HTTP request that created it.
 */
export function traceRequests(app: FastifyInstance): void {
  app.decorateRequest('traceContext');
  app.addHook('onRequest', async (request) => {
    const parent = extractTraceContext(request.headers as Record<string, string>);
    const route = request.routeOptions.url ?? request.url;
    const span = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'http.route': route, 'url.path': request.url.split('?')[0] ?? '' },
      },
      parent,
    );
    spans.set(request, span);
    request.traceContext = trace.setSpan(parent, span);
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) markError(span, { code: String(reply.statusCode), message: 'server error' });
    span.end();
  });
}
