import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorBody, type ErrorCode } from '@volley/shared';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route or hook runs (a URL
 * that does not decode, a path parameter over `maxParamLength`), answered in Volley's shape
 * instead of Fastify's own `{error, code, message, statusCode}`.
 */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.statusCode === 'number' && error.statusCode < 500 ? 400 : 500;
  void reply.status(status).send(errorBody(status === 400 ? 'invalid_request' : 'internal_error', status === 400 ? error.message : 'internal error'));
}

/** Node's HTTP parser's complaints, by its error code. */
const CLIENT_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'the request line and headers are larger than this server reads (16 KiB)' },
};
const MALFORMED = { status: 400, code: 'invalid_request', message: 'malformed HTTP request' } as const;

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser could not read (headers or URL
 * too large, bad framing) never reaches Fastify; it gets a JSON error of Volley's shape on the
 * raw socket, which is then closed (as Fastify's default handler does, with its own shape).
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, message } = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED;
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
