import { z } from 'zod';

/**
 * Responses that are not JSON (pages, scripts, Prometheus text, an event stream), for a route's
 * `schema.response`: documented with their content type. Their bodies are strings, buffers or a
 * hijacked stream, which Fastify sends as they are, so the schema never serializes them.
 */
export function contentResponse(contentType: string, description: string, schema: z.ZodType = z.string()) {
  return { description, content: { [contentType]: { schema } } };
}

export function htmlPage(description: string) {
  return contentResponse('text/html', description);
}

/** A response without a body (a redirect, a 304). */
export function noBody(description: string) {
  return z.undefined().describe(description);
}
