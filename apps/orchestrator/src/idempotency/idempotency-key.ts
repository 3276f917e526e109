import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { VolleyError } from '@volley/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's Idempotency-Key and its body's fingerprint, when it sent a key (see `takeIdempotencyKeys`). */
    idempotency: { key: string; fingerprint: string } | undefined;
  }
}

/** The request header that makes a submission idempotent (header names are case-insensitive). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** The response header of an answer replayed from an earlier request with the same key. */
export const REPLAYED_HEADER = 'idempotent-replayed';

/**
 * A key is 1–255 characters of visible ASCII (`!` to `~`, 0x21–0x7E): no spaces, no control
 * characters, nothing outside ASCII. A UUID, a ULID or a hex digest all fit. Two headers of the
 * same name reach Node joined by `, `, which holds a space, so they are refused too.
 */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The headers of a route that takes an Idempotency-Key, for its schema (and so the document). */
export const idempotencyHeadersSchema = z.looseObject({
  [IDEMPOTENCY_HEADER]: z
    .string()
    .regex(KEY_PATTERN)
    .optional()
    .describe('Makes the request idempotent: a retry with the same key and body gets the first answer (1 to 255 characters of visible ASCII).'),
});

/**
 * The `preValidation` hook of a route that takes an Idempotency-Key, which it sets as
 * `request.idempotency`. It runs before the body is validated: the fingerprint is of the body as
 * sent (the validated one has its defaults filled in, and a fingerprint must not change when a
 * default does), and a malformed key is refused ahead of a malformed body. `deliveryFields` only
 * say how the answer is delivered (`stream`), not what runs: they are left out of the
 * fingerprint, so a retry may ask for the first answer either way.
 */
export function takeIdempotencyKeys(app: FastifyInstance, deliveryFields: readonly string[] = []): (request: FastifyRequest) => Promise<void> {
  if (!app.hasRequestDecorator('idempotency')) app.decorateRequest('idempotency', undefined);
  return async (request) => {
    const key = idempotencyKeyOf(request.headers);
    request.idempotency = key === undefined ? undefined : { key, fingerprint: bodyFingerprint(withoutFields(request.body, deliveryFields)) };
  };
}

function withoutFields(body: unknown, fields: readonly string[]): unknown {
  if (fields.length === 0 || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(Object.entries(body).filter(([field]) => !fields.includes(field)));
}

/** The request's idempotency key, if it sent one; a malformed one is a 400 before anything runs. */
export function idempotencyKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const value = headers[IDEMPOTENCY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    throw new VolleyError('invalid_idempotency_key', `the ${IDEMPOTENCY_HEADER} header must be 1 to 255 characters of visible ASCII (0x21-0x7E), sent once`);
  }
  return value;
}

/**
 * The fingerprint of a request body: sha256 of its canonical JSON (object keys sorted at every
 * level), so the same body sent with its keys in another order or other whitespace matches.
 */
export function bodyFingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Where the record of one (route, tenant, key) lives. The key is hashed: it is the client's text,
 * and its digest keeps the Redis key short and free of anything a client chose. `tenant` null
 * (auth off) is `-`, which no tenant name can be (they start with a letter or digit).
 */
export function idempotencyRecordKey(prefix: string, route: 'tasks' | 'tool-calls', tenant: string | null, key: string): string {
  return `${prefix}:idem:${route}:${tenant ?? '-'}:${createHash('sha256').update(key).digest('hex')}`;
}
