import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, withTimeout, type Metrics } from '@volley/shared';

const READY_TIMEOUT_MS = 1_000;

export interface StatusServerOptions {
  metrics: Metrics;
  /** Whether Redis answers (e.g. `() => redis.ping()`): `/readyz` is 503 while it throws. */
  ping: () => Promise<unknown>;
  /** 0 takes any free port; `port` on the result says which. */
  port: number;
  host: string;
}

export interface StatusServer {
  /** The port it listens on. */
  readonly port: number;
  /** From now on `/healthz` and `/readyz` answer 503: the worker is draining. */
  markStopping(): void;
  close(): Promise<void>;
}

/**
 * The tool worker's small HTTP side: `GET /metrics` (Prometheus text), `GET /healthz` (200
 * while running, 503 once shutting down) and `GET /readyz` (503 while Redis does not answer or
 * while shutting down). Nothing else: the worker takes its work from the queue, not over HTTP.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  let stopping = false;
  const routes: Record<string, (response: ServerResponse) => Promise<void>> = {
    '/metrics': async (response) => {
      const { contentType, body } = await options.metrics.render();
      response.writeHead(200, { 'content-type': contentType }).end(body);
    },
    '/healthz': async (response) => {
      if (stopping) return json(response, 503, { status: 'stopping' });
      json(response, 200, { status: 'ok' });
    },
    '/readyz': async (response) => {
      if (stopping) return json(response, 503, { status: 'stopping' });
      try {
        await withTimeout(options.ping(), READY_TIMEOUT_MS);
        json(response, 200, { status: 'ready' });
      } catch (error) {
        json(response, 503, errorBody('redis_unavailable', `Redis is not reachable: ${(error as Error).message}`));
      }
    },
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?', 1)[0]!;
    const route = Object.hasOwn(routes, path) && (request.method === 'GET' || request.method === 'HEAD') ? routes[path] : undefined;
    // As the orchestrator answers: a method a path does not serve is no route either.
    if (!route) return json(response, 404, errorBody('route_not_found', `no route ${request.method} ${path}`));
    route(response).catch((error: unknown) => {
      if (!response.headersSent) json(response, 500, errorBody('internal_error', (error as Error).message));
      else response.destroy();
    });
  });
  // Probes and scrapes hold no long connections worth waiting for at shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    markStopping() {
      stopping = true;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}
