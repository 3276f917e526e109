import type { ErrorCode } from '@volley/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorResponses, type ErrorResponseOptions, type ErrorStatuses } from '../http/error-responses.ts';
import { rewriteErrorBodies } from '../http/rewrite-error-bodies.ts';

/** OpenAI's `type` for an HTTP status: what its SDKs and users switch on. */
export function openAIErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openAIErrorBody(status: number, code: string, message: string) {
  return { error: { message, type: openAIErrorType(status), param: null, code } };
}

/**
 * The OpenAI-compatible routes answer errors in OpenAI's shape, `{error: {message, type, param,
 * code}}`, with Volley's stable code as `code` (see `rewriteErrorBodies`); the routes' documented
 * error schemas (`openAIErrorResponses`) are what is sent.
 */
export function answerErrorsInOpenAIShape(scope: FastifyInstance): void {
  rewriteErrorBodies(scope, openAIErrorBody);
}

/** The error statuses of an OpenAI-compatible route, in OpenAI's shape (see `errorResponses`). */
export function openAIErrorResponses(own: ErrorStatuses, options: Omit<ErrorResponseOptions, 'bodyOf'> = {}) {
  return errorResponses(own, { ...options, bodyOf: openAIErrorBodySchema });
}

function openAIErrorBodySchema(codes: readonly ErrorCode[]) {
  return z.object({
    error: z.object({
      message: z.string(),
      type: z.string().describe("OpenAI's kind of error for the status (`invalid_request_error`, `authentication_error`, …)."),
      param: z.null(),
      code: z.string().describe(`Volley's error code: ${codes.map((code) => `\`${code}\``).join(', ')}`),
    }),
  });
}
