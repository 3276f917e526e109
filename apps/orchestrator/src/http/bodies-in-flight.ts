import { errorBody } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { RETRY_AFTER_SECONDS } from './redis-gate.ts';

export interface BodiesInFlightOptions {
  /** Request bodies (bytes declared) this process holds at once at most. */
  maxBytes: number;
  /** The per-request body limit: what a body of unknown length (chunked) counts as. */
  bodyLimitBytes: number;
}

/**
 * Caps the request bodies held in memory at once. A body is read, parsed and kept until its
 * response is sent; when answers are slow (Redis slow or not answering yet, calls still running)
 * the bodies of every request in flight add up, whatever each one's own limit. Before reading a
 * body this reserves its declared `content-length` (a chunked body counts as a whole
 * `bodyLimitBytes`), gives it back when the response closes (sent or aborted), and refuses a
 * request that would go over `maxBytes` with 503 `overloaded` and `retry-after`, its body unread.
 *
 * A `preParsing` hook: it runs after authentication and the rate limit (`onRequest`), so refused
 * or unauthenticated callers take nothing from the budget.
 */
export function limitBodiesInFlight(app: FastifyInstance, options: BodiesInFlightOptions): void {
  let held = 0;
  app.addHook('preParsing', async (request, reply, payload) => {
    const bytes = declaredBodyBytes(request.headers, options.bodyLimitBytes);
    if (bytes === 0) return payload;
    if (held + bytes > options.maxBytes) {
      reply
        .status(503)
        .header('retry-after', String(RETRY_AFTER_SECONDS))
        .send(errorBody('overloaded', `this instance holds ${options.maxBytes} bytes of request bodies at most and is full; retry shortly`));
      return payload;
    }
    held += bytes;
    // 'close' fires once per response, whether it was sent or its connection dropped.
    reply.raw.once('close', () => {
      held -= bytes;
    });
    return payload;
  });
}

/** Bytes the request's body will take at most: 0 when it has none. */
function declaredBodyBytes(headers: IncomingHttpHeaders, bodyLimitBytes: number): number {
  const length = headers['content-length'];
  if (length !== undefined) {
    const bytes = Number(length);
    // Node refuses a length that is not a number; one over the limit gets 413 without reading.
    return Number.isSafeInteger(bytes) && bytes >= 0 ? Math.min(bytes, bodyLimitBytes) : 0;
  }
  return headers['transfer-encoding'] === undefined ? 0 : bodyLimitBytes;
}
