import type { FastifyInstance } from 'fastify';

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
 * code}}`, with Volley's stable code as `code`. Every error on the way (auth, the Redis gate,
 * validation, the handler) is made in Volley's shape by the one error path the other routes use;
 * this scope rewrites it as it leaves, so there is no second error path to drift.
 */
export function answerErrorsInOpenAIShape(scope: FastifyInstance): void {
  scope.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode < 400 || typeof payload !== 'string') return payload;
    let body: { error?: { code?: unknown; message?: unknown; type?: unknown } };
    try {
      body = JSON.parse(payload);
    } catch {
      return payload;
    }
    const { error } = body;
    if (!error || typeof error.code !== 'string' || typeof error.message !== 'string' || error.type !== undefined) return payload;
    return JSON.stringify(openAIErrorBody(reply.statusCode, error.code, error.message));
  });
}
