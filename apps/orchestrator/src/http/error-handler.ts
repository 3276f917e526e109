import { errorBody, VolleyError, type Logger } from '@volley/shared';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RETRY_AFTER_SECONDS, replyRedisUnavailable, type RedisGate } from './redis-gate.ts';
import { isRedisUnavailable } from './redis-unavailable.ts';

/** Fastify's own request errors, mapped to Volley's codes. */
const FASTIFY_CODES: Record<string, { code: string; status: number }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', status: 400 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', status: 400 },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', status: 413 },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', status: 415 },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', status: 400 },
};

/** Codes that say "try again shortly": their answers carry `retry-after`. */
const RETRY_LATER = new Set(['redis_unavailable', 'overloaded']);

/**
 * Every error leaves as `{error: {code, message}}`. 4xx are the client's and logged at info;
 * 5xx are ours, logged with their stack, and the client gets a generic message. A Redis that
 * did not answer (a command timed out, the connection failed; also as the cause of another
 * error) is 503 `redis_unavailable`, never 500, and closes `redisGate` until Redis answers again.
 */
export function createErrorHandler(logger: Logger, redisGate?: RedisGate) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    // A request part that fails its route's schema arrives as its ZodError (see `useZodSchemas`).
    if (error instanceof z.ZodError) {
      return reply.status(400).send(errorBody('invalid_request', describeZodError(error)));
    }
    if (isRedisUnavailable(error)) {
      // The gate logs the outage once; a line per refused request would flood the log.
      logger.debug({ err: error, url: request.url }, 'request failed: redis unavailable');
      redisGate?.markUnavailable(error);
      return replyRedisUnavailable(reply, 'Redis did not answer in time; retry shortly');
    }
    if (VolleyError.isInstance(error)) {
      if (error.status >= 500) logger.error({ err: error, url: request.url }, 'request failed');
      if (RETRY_LATER.has(error.code)) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply.status(error.status).send(errorBody(error.code, error.message));
    }
    const fastifyCode = 'code' in error && typeof error.code === 'string' ? FASTIFY_CODES[error.code] : undefined;
    if (fastifyCode) return reply.status(fastifyCode.status).send(errorBody(fastifyCode.code, error.message));
    const status = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status < 500) return reply.status(status).send(errorBody('invalid_request', error.message));
    logger.error({ err: error, url: request.url }, 'request failed');
    return reply.status(500).send(errorBody('internal_error', 'internal error'));
  };
}

export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}
