import type { FastifyInstance } from 'fastify';

/**
 * Rewrites, as they leave `scope`, the errors made in Volley's shape `{error: {code, message}}`
 * into a door's own (`shape` gets the status, the stable code and the message). Every error on
 * the way (auth, the Redis gate, body parsing, the handler) is made by the one error path the
 * other routes use, so a door has no second error path to drift; answers already in another
 * shape are left alone.
 */
export function rewriteErrorBodies(scope: FastifyInstance, shape: (status: number, code: string, message: string) => unknown): void {
  // Before serialization: the routes' documented error schemas check the shape that is sent.
  scope.addHook('preSerialization', async (_request, reply, payload) => {
    if (reply.statusCode < 400 || payload === null || typeof payload !== 'object') return payload;
    const body = payload as { error?: { code?: unknown; message?: unknown } };
    const error = body.error;
    if (!error || typeof error.code !== 'string' || typeof error.message !== 'string' || Object.keys(body).length !== 1 || Object.keys(error).length !== 2) {
      return payload;
    }
    return shape(reply.statusCode, error.code, error.message);
  });
}
