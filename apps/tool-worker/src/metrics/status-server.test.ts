import { Metrics } from '@volley/shared';
import { parsePrometheusText, sampleValue } from '@volley/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { startStatusServer, type StatusServer } from './status-server.ts';

let server: StatusServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(ping: () => Promise<unknown> = async () => 'PONG') {
  const metrics = new Metrics({ processMetrics: false });
  metrics.counter('volley_tool_calls_total', 'calls', ['tool']).inc({ tool: 'nap' }, 2);
  server = await startStatusServer({ metrics, ping, port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${server.port}`;
  return async (path: string, method = 'GET') => {
    const response = await fetch(`${base}${path}`, { method });
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  };
}

describe('startStatusServer', () => {
  describe('when running', () => {
    it('serves the metrics in the Prometheus text format on the port it took', async () => {
      const get = await start();

      const response = await get('/metrics');

      expect(server!.port).toBeGreaterThan(0);
      expect(response.status).toBe(200);
      expect(response.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(sampleValue(parsePrometheusText(response.text), 'volley_tool_calls_total', { tool: 'nap' })).toBe(2);
    });

    it('is healthy, and ready while Redis answers', async () => {
      const get = await start();

      expect(await get('/healthz')).toMatchObject({ status: 200, text: '{"status":"ok"}' });
      expect(await get('/readyz')).toMatchObject({ status: 200, text: '{"status":"ready"}' });
    });

    it('is healthy but not ready while Redis does not answer', async () => {
      const get = await start(() => new Promise(() => undefined));

      expect((await get('/healthz')).status).toBe(200);
      const ready = await get('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.text).error.code).toBe('redis_unavailable');
    });

    it('answers 404 route_not_found for any other path or method', async () => {
      const get = await start();

      for (const [path, method] of [
        ['/', 'GET'],
        ['/metrics/x', 'GET'],
        ['/metrics', 'POST'],
        ['/healthz?x=1', 'DELETE'],
      ] as const) {
        const response = await get(path, method);
        expect(response.status).toBe(404);
        expect(JSON.parse(response.text).error.code).toBe('route_not_found');
      }
    });
  });

  describe('when the worker is shutting down', () => {
    it('answers 503 on /healthz and /readyz, and still serves /metrics', async () => {
      const get = await start();

      server!.markStopping();

      expect(await get('/healthz')).toMatchObject({ status: 503, text: '{"status":"stopping"}' });
      expect((await get('/readyz')).status).toBe(503);
      expect((await get('/metrics')).status).toBe(200);
    });
  });

  describe('when the port is taken', () => {
    it('rejects, so the worker can exit saying so', async () => {
      await start();
      const metrics = new Metrics({ processMetrics: false });

      await expect(startStatusServer({ metrics, ping: async () => 'PONG', port: server!.port, host: '127.0.0.1' })).rejects.toThrow(/EADDRINUSE/);
    });
  });
});
