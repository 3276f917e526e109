import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';

const KEY = 'a-long-enough-key-123456';
const OTHER_KEY = 'another-long-enough-key-7890';
const DASHBOARD = '/admin/queues';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

/** A raw GET: the dashboard answers HTML and assets, which `Api` (JSON only) cannot read. */
async function get(api: Api, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${api.baseUrl}${path}`, { headers: { ...api.headers, ...headers } });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** The names of the queues bull-board's API lists. */
async function listedQueues(api: Api): Promise<string[]> {
  const { status, body } = await api.get<{ queues: Array<{ name: string }> }>(`${DASHBOARD}/api/queues`);
  expect(status).toBe(200);
  return body.queues.map((queue) => queue.name).sort();
}

/** The dashboard page and the scripts it loads, as paths under the mount. */
function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(static\/[^"]+)"/g)].map((match) => `${DASHBOARD}/${match[1]}`);
}

describe('queue dashboard', () => {
  describe('when API keys are configured', () => {
    let cluster: Cluster;
    let withBearer: Api;
    let withBasic: Api;

    beforeAll(async () => {
      cluster = await startCluster({ workers: 1, orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme` } });
      withBearer = cluster.api.withHeaders({ authorization: `Bearer ${KEY}` });
      withBasic = cluster.api.withHeaders(basic('operator', KEY));
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it.each([
      ['the page', DASHBOARD],
      ['the page, with a trailing slash', `${DASHBOARD}/`],
      ['a queue page', `${DASHBOARD}/queue/turns`],
      ['its API', `${DASHBOARD}/api/queues`],
      ['a job through its API', `${DASHBOARD}/api/queues/turns/some-job`],
      ['an asset', `${DASHBOARD}/static/favicon-32x32.png`],
    ])('refuses %s without a key with 401 and a Basic challenge', async (_what, path) => {
      const response = await get(cluster.api, path);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="volley", charset="UTF-8"');
      expect(JSON.parse(response.text)).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(/API key is required/) } });
    });

    it.each([
      ['a wrong Basic password', basic('operator', OTHER_KEY)],
      ['the key as the Basic user name', basic(KEY, '')],
      ['a wrong bearer token', { authorization: `Bearer ${OTHER_KEY}` }],
    ])('refuses %s with 401', async (_what, headers) => {
      expect((await get(cluster.api, DASHBOARD, headers)).status).toBe(401);
      expect((await get(cluster.api, `${DASHBOARD}/api/queues`, headers)).status).toBe(401);
    });

    it('takes Basic credentials on the dashboard only, not on the API', async () => {
      const response = await withBasic.exchange('GET', '/v1/tools');
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="volley"');
    });

    it.each([
      ['a bearer token', () => withBearer],
      ['the key as a Basic password', () => withBasic],
    ])('serves the page and every asset it loads to %s', async (_what, api) => {
      const page = await get(api(), DASHBOARD);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain('<title>Volley queues</title>');
      expect(page.text).toContain(`<base href="${DASHBOARD}/"`);
      const assets = assetPaths(page.text);
      expect(assets.length).toBeGreaterThan(0);
      for (const asset of assets) {
        expect((await get(api(), asset)).status, asset).toBe(200);
        expect((await get(cluster.api, asset)).status, `${asset} without a key`).toBe(401);
      }
    });

    it('lists the turn queue and the default pool through its API', async () => {
      expect(await listedQueues(withBearer)).toEqual(['tools-default', 'turns']);
      expect(await listedQueues(withBasic)).toEqual(['tools-default', 'turns']);
    });

    it('adds the queue of a pool whose first worker starts later', async () => {
      await cluster.addWorker('io-1', { VOLLEY_POOL: 'io' });
      await waitFor(async () => (await listedQueues(withBearer)).includes('tools-io'), {
        timeoutMs: 5_000,
        intervalMs: 200,
        message: 'tools-io never appeared on the dashboard',
      });
      expect(await listedQueues(withBearer)).toEqual(['tools-default', 'tools-io', 'turns']);
    });

    it('is read-only: queue actions are refused', async () => {
      for (const [method, action] of [
        ['PUT', 'turns/pause'],
        ['PUT', 'tools-default/empty'],
        ['PUT', 'tools-default/clean/failed'],
        ['PUT', 'turns/obliterate'],
        ['POST', 'tools-default/add'],
      ] as const) {
        const response = await withBearer.request(method, `${DASHBOARD}/api/queues/${action}`, {});
        expect(response.status, `${method} ${action}`).toBe(405);
      }
      const { body } = await withBearer.get(`${DASHBOARD}/api/queues`);
      expect(body.queues.every((queue: { readOnlyMode: boolean }) => queue.readOnlyMode)).toBe(true);
    });
  });

  describe('when only some tenants may open it (VOLLEY_DASHBOARD_TENANTS)', () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await startCluster({
        workers: 0,
        orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:ops,${OTHER_KEY}:acme`, VOLLEY_DASHBOARD_TENANTS: 'ops' },
      });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('serves the named tenant and answers 403 forbidden to the others', async () => {
      expect((await get(cluster.api, DASHBOARD, basic('x', KEY))).status).toBe(200);
      const refused = await get(cluster.api, `${DASHBOARD}/api/queues`, basic('x', OTHER_KEY));
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.text).error.code).toBe('forbidden');
      expect((await get(cluster.api, DASHBOARD, { authorization: `Bearer ${OTHER_KEY}` })).status).toBe(403);
      // The other tenant's API access is unaffected.
      expect((await cluster.api.withHeaders({ 'x-api-key': OTHER_KEY }).get('/v1/tools')).status).toBe(200);
    });
  });

  describe('when auth is off', () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await startCluster({ workers: 1 });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('serves the page and lists the queues to anyone', async () => {
      const page = await get(cluster.api, DASHBOARD);
      expect(page.status).toBe(200);
      expect(page.text).toContain('<title>Volley queues</title>');
      expect(await listedQueues(cluster.api)).toEqual(['tools-default', 'turns']);
    });
  });
});
