import { STATUS_CODES } from 'node:http';
import { callErrorSchema, errorBodySchema as anyErrorBodySchema } from '@volley/api-schemas';
import type { ErrorCode } from '@volley/shared';
import { z } from 'zod';

/** Error codes a route answers, by HTTP status. */
export type ErrorStatuses = Readonly<Partial<Record<number, readonly ErrorCode[]>>>;

export interface ErrorResponseOptions {
  /**
   * The route needs the API key (401 `unauthorized` when keys are on).
   * @defaultValue true
   */
  auth?: boolean;
  /**
   * The route is refused while Redis does not answer (503 `redis_unavailable`, see `RedisGate`).
   * @defaultValue true
   */
  gate?: boolean;
  /**
   * The route reads a request body: what the JSON parser and the body budget refuse comes first.
   * @defaultValue false
   */
  body?: boolean;
  /**
   * The error body's schema for a status and its codes: a route that answers errors in another
   * shape (the OpenAI-compatible ones) documents that shape.
   * @defaultValue errorBodySchema
   */
  bodyOf?: (codes: readonly [ErrorCode, ...ErrorCode[]]) => z.ZodType;
}

const BODY_ERRORS: ErrorStatuses = {
  400: ['invalid_json', 'invalid_request'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  503: ['overloaded'],
};

/**
 * The `{error: {code, message}}` body, with `code` one of `codes`: a client can switch on it,
 * and an answer with a code the route does not document is logged (see `useZodSchemas`).
 */
export function errorBodySchema(codes: readonly [ErrorCode, ...ErrorCode[]]) {
  return anyErrorBodySchema.extend({ error: callErrorSchema.extend({ code: z.enum(codes) }) });
}

/**
 * The error statuses of a route's `schema.response`: its own codes, and those every route of its
 * kind may answer (auth, the Redis gate, body parsing, an internal error), merged by status.
 */
export function errorResponses(own: ErrorStatuses, options: ErrorResponseOptions = {}): Record<number, z.ZodType> {
  const sets: ErrorStatuses[] = [own, { 500: ['internal_error'] }];
  if (options.auth ?? true) sets.push({ 401: ['unauthorized'] });
  if (options.gate ?? true) sets.push({ 503: ['redis_unavailable'] });
  if (options.body) sets.push(BODY_ERRORS);
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const set of sets) {
    for (const [status, codes] of Object.entries(set)) {
      const known = byStatus.get(Number(status)) ?? new Set();
      for (const code of codes ?? []) known.add(code);
      byStatus.set(Number(status), known);
    }
  }
  const responses: Record<number, z.ZodType> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const [first, ...rest] = [...codes];
    if (first === undefined) continue;
    responses[status] = (options.bodyOf ?? errorBodySchema)([first, ...rest]).describe(
      `${STATUS_CODES[status]}: ${[first, ...rest].map((code) => `\`${code}\``).join(', ')}`,
    );
  }
  return responses;
}
