import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';

/** An open Server-Sent Events answer. */
export interface SseResponse {
  /** Aborts when the client goes away or the app closes. */
  readonly signal: AbortSignal;
  /** Writes with backpressure: a slow client holds the writer back instead of growing a buffer. */
  send(text: string): Promise<void>;
  end(): void;
}

/**
 * Opens SSE answers for the routes of `app`: headers that keep proxies from buffering, a comment
 * line every `heartbeatMs` so they do not close a quiet stream, and every stream ended when the
 * app closes (the server would otherwise wait for each to end by itself).
 */
export function sseResponses(app: FastifyInstance): (reply: FastifyReply, options: { heartbeatMs: number; headers?: Record<string, string> }) => SseResponse {
  const open = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.abort();
  });
  return (reply, options) => {
    // Hijacked, the reply no longer writes the headers hooks set on it (rate limits, the task id):
    // they go out here, with the stream's own.
    const set = Object.entries(reply.getHeaders()).filter((entry): entry is [string, string | number | string[]] => entry[1] !== undefined);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...Object.fromEntries(set),
      ...options.headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const stream = new AbortController();
    open.add(stream);
    raw.on('close', () => stream.abort());
    const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), options.heartbeatMs);
    return {
      signal: stream.signal,
      send: (text) => write(raw, text),
      end() {
        clearInterval(heartbeat);
        open.delete(stream);
        raw.end();
      },
    };
  };
}

function write(raw: ServerResponse, text: string): Promise<void> {
  if (raw.destroyed) return Promise.resolve();
  if (raw.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
  });
}
