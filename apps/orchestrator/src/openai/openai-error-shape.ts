import type { FastifyInstance } from 'fastify';
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
 * code}}`, with Volley's stable code as `code`.
 */
export function answerErrorsInOpenAIShape(scope: FastifyInstance): void {
  rewriteErrorBodies(scope, openAIErrorBody);
}
