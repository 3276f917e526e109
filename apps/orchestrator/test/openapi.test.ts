import { randomBytes } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { DEFAULT_PREFIX, KeySpaces, Metrics } from '@volley/shared';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApp } from '../src/app.ts';
import { ApiKeyring } from '../src/auth/api-keys.ts';
import { FanInInbox } from '../src/fan-out/fan-in-inbox.ts';
import { FanInWaiters } from '../src/fan-out/fan-in-waiters.ts';
import { FanOutQueue } from '../src/fan-out/fan-out-queue.ts';
import { RedisGate } from '../src/http/redis-gate.ts';
import { TaskIndex } from '../src/tasks/task-index.ts';
import { TaskStore } from '../src/tasks/task-store.ts';
import { ToolCatalog } from '../src/tools/tool-catalog.ts';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';
import { assistant, ask, call, callsFromQuestion } from './support/scripted-calls.ts';
import { readSse } from './support/sse.ts';

const KEY = `vk_${randomBytes(24).toString('hex')}`;
/** Debian's chromium, as `ui.test.ts` drives it: the page test fails (never skips) without it. */
const CHROMIUM = '/usr/bin/chromium';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

type Operation = {
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media> }>;
  security?: unknown[];
};
type Media = { schema: unknown; example?: unknown; examples?: Record<string, { value: unknown }> };
type Document = {
  openapi: string;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components: { schemas: Record<string, unknown> };
};

/** `/v1/tasks/:id` as OpenAPI writes it. */
const documentPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
/** A media type's examples: its own, or (for a response given per content type) its schema's. */
const examplesOf = (media: Media | undefined): unknown[] =>
  media
    ? [
        ...(media.example === undefined ? [] : [media.example]),
        ...Object.values(media.examples ?? {}).map((e) => e.value),
        ...((media.schema as { examples?: unknown[] }).examples ?? []),
      ]
    : [];
const isZod = (value: unknown): value is z.ZodType => value instanceof z.ZodType;

/** The schema a route answers `status` with as `contentType`: a zod schema, or one per content type. */
function responseSchema(route: RouteOptions, status: string, contentType: string): z.ZodType {
  const declared = (route.schema?.response as Record<string, unknown> | undefined)?.[status];
  if (isZod(declared)) return declared;
  const schema = (declared as { content?: Record<string, { schema: unknown }> } | undefined)?.content?.[contentType]?.schema;
  if (!isZod(schema)) throw new Error(`${route.method} ${route.url}: no zod schema for ${status} ${contentType}`);
  return schema;
}

/**
 * The app as `main.ts` builds it, in this process (its routes' zod schemas are what the document
 * is checked against), on the cluster's Redis, listening on a free port.
 */
async function startInProcessApp(redisUrl: string): Promise<{ app: FastifyInstance; routes: RouteOptions[]; baseUrl: string; close: () => Promise<void> }> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const logger = pino({ level: 'silent' });
  const fanInWaiters = new FanInWaiters();
  const spaces = new KeySpaces(DEFAULT_PREFIX);
  const inbox = new FanInInbox({ spaces, waiters: fanInWaiters, logger });
  inbox.listen(() => new Redis(redisUrl, { maxRetriesPerRequest: null }));
  const fanOut = new FanOutQueue({ connection: redis, spaces });
  const app = buildApp({
    store: new TaskStore({ redis, spaces, ttlSeconds: 3600 }),
    index: new TaskIndex({ redis, prefix: DEFAULT_PREFIX, ttlSeconds: 3600 }),
    catalog: new ToolCatalog({ redis, prefix: DEFAULT_PREFIX }),
    fanOut,
    eventStreams: { blockingRedis: () => new Redis(redisUrl), spaces, heartbeatMs: 15_000 },
    fanInWaiters,
    // Its fan-ins are gathered by the cluster's orchestrator, not here: they come back by this inbox.
    inbox,
    redis,
    redisGate: new RedisGate({ probe: () => redis.ping(), logger }),
    logger,
    bodyLimitBytes: 1024 * 1024,
    bodyBytesInFlight: 64 * 1024 * 1024,
    maxBodyDepth: 128,
    security: { keyring: new ApiKeyring([{ key: KEY, tenant: 'acme' }]), tenantTools: new Map(), taskRateLimit: null, dashboardTenants: null },
    metrics: new Metrics({ processMetrics: false }),
    defaults: { model: 'scripted', maxTurns: 10 },
    limits: { maxToolCalls: 128, defaultTimeoutMs: 30_000, maxArgumentBytes: 64 * 1024 },
  });
  // The routes are added in plugins, when the app gets ready: this hears of every one.
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD') routes.push(route);
  });
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    routes,
    baseUrl,
    close: async () => {
      await app.close();
      await Promise.allSettled([inbox.close(), fanOut.close()]);
      redis.disconnect();
    },
  };
}

describe('the OpenAPI document', () => {
  let cluster: Cluster;
  let inProcess: Awaited<ReturnType<typeof startInProcessApp>>;
  let document: Document;
  let acme: Api;
  const route = (method: string, url: string) => {
    const found = inProcess.routes.find((r) => r.method === method && r.url === url);
    if (!found) throw new Error(`no route ${method} ${url}`);
    return found;
  };

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, respond: callsFromQuestion, orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme` } });
    acme = cluster.api.withHeaders({ authorization: `Bearer ${KEY}` });
    inProcess = await startInProcessApp(cluster.redis.url);
    const response = await fetch(`${inProcess.baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    document = (await response.json()) as Document;
  });

  afterAll(async () => {
    await inProcess?.close();
    await cluster?.stop();
  });

  describe('as served', () => {
    it('is a valid OpenAPI 3.1 document', async () => {
      const validator = new Validator();
      const result = await validator.validate(structuredClone(document) as never);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(validator.version).toBe('3.1');
    });

    it('is public while API keys are on, and what a running orchestrator serves', async () => {
      const served = await fetch(`${cluster.api.baseUrl}/openapi.json`);
      expect(served.status).toBe(200);
      expect(await served.json()).toEqual(document);
      expect((await cluster.api.get('/v1/tools')).status).toBe(401);
    });
  });

  describe('against the routes the app registers', () => {
    it("lists every route, except the internals their own plugin hides (the docs page's files, the dashboard's API)", () => {
      const hidden: string[] = [];
      for (const { method, url, schema } of inProcess.routes) {
        const operation = document.paths[documentPath(url)]?.[String(method).toLowerCase() as (typeof METHODS)[number]];
        if (operation) continue;
        expect(schema?.hide, `${method} ${url} is not in the document`).toBe(true);
        hidden.push(url);
      }
      for (const url of hidden) expect(url).toMatch(/^\/(docs|admin\/queues)\//);
      for (const page of ['/docs/', '/admin/queues/', '/ui/', '/openapi.json', '/metrics', '/v1/tasks/{id}/events'])
        expect(Object.keys(document.paths), page).toContain(page);
    });

    it('describes an error body for every 4xx and 5xx, and a response for every status', () => {
      for (const [path, item] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          const statuses = Object.keys(operation!.responses);
          // An operation that only says it is refused (GET and DELETE /mcp: 405) has no success to describe.
          const refusedOnly = statuses.includes('405');
          expect(refusedOnly || statuses.some((status) => status.startsWith('2') || status.startsWith('3')), `${method} ${path}`).toBe(true);
          expect(statuses, `${method} ${path}`).toContain('500');
          for (const status of statuses.filter((s) => Number(s) >= 400)) {
            const schema = operation!.responses[status]!.content?.['application/json']?.schema as { properties?: Record<string, unknown> } | undefined;
            expect(schema?.properties, `${method} ${path} ${status}`).toHaveProperty('error');
          }
        }
      }
    });

    it('documents examples that its own schemas take: every request body, every 2xx answer', () => {
      let checked = 0;
      for (const r of inProcess.routes) {
        const operation = document.paths[documentPath(r.url)]?.[String(r.method).toLowerCase() as (typeof METHODS)[number]];
        if (!operation) continue;
        const where = `${r.method} ${r.url}`;
        if (r.schema?.body) {
          const examples = examplesOf(operation.requestBody?.content['application/json']);
          expect(examples.length, `${where}: a request example`).toBeGreaterThan(0);
          for (const example of examples) {
            expect(() => (r.schema!.body as z.ZodType).parse(example), `${where} request example`).not.toThrow();
            checked += 1;
          }
        }
        for (const [status, response] of Object.entries(operation.responses)) {
          for (const [contentType, media] of Object.entries(response.content ?? {})) {
            const examples = examplesOf(media);
            const isAnswer = status.startsWith('2') && (contentType === 'application/json' || contentType === 'text/event-stream');
            if (isAnswer) expect(examples.length, `${where} ${status}: an example`).toBeGreaterThan(0);
            for (const example of examples) {
              expect(() => responseSchema(r, status, contentType).parse(example), `${where} ${status} example`).not.toThrow();
              checked += 1;
            }
          }
        }
      }
      expect(checked).toBeGreaterThan(10);
    });
  });

  describe('against real answers', () => {
    it('matches what every route answers, and the orchestrator logs no mismatch', async () => {
      const check = (method: string, url: string, status: number, body: unknown) =>
        expect(() => responseSchema(route(method, url), String(status), 'application/json').parse(body), `${method} ${url} ${status}`).not.toThrow();

      const created = await acme.post('/v1/tasks', {
        ...ask([
          { id: 'n1', name: 'nap', arguments: { ms: 5 } },
          { id: 'n2', name: 'nap', arguments: { ms: 5 } },
        ]),
        metadata: { suite: 'openapi' },
      });
      check('POST', '/v1/tasks', created.status, created.body);
      const finished = await acme.waitForTask(created.body.id);
      expect(finished.status, JSON.stringify(finished.error)).toBe('completed');
      expect(finished.turns[0].tool_calls).toHaveLength(2);
      const read = await acme.get(`/v1/tasks/${created.body.id}`);
      check('GET', '/v1/tasks/:id', read.status, read.body);
      // Nothing the store keeps is left out of the answer.
      expect(Object.keys(read.body).sort()).toEqual(
        [...(await cluster.client.hkeys(`volley:task:${created.body.id}`)), 'messages', 'turns', 'pending_approvals'].sort(),
      );

      const listed = await acme.get('/v1/tasks?metadata.suite=openapi');
      check('GET', '/v1/tasks', listed.status, listed.body);
      expect(listed.body.tasks.map((t: { id: string }) => t.id)).toEqual([created.body.id]);
      const tools = await acme.get('/v1/tools');
      check('GET', '/v1/tools', tools.status, tools.body);
      const fanOut = await acme.post('/v1/tool-calls', { message: assistant(call('a', 'nap', { ms: 1 }), call('b', 'no_such_tool')) });
      check('POST', '/v1/tool-calls', fanOut.status, fanOut.body);
      const streamedFanOut = await readSse(`${cluster.api.baseUrl}/v1/tool-calls`, {
        headers: { authorization: `Bearer ${KEY}` },
        post: { message: assistant(call('s', 'nap', { ms: 1 })), stream: true },
      });
      expect(streamedFanOut.headers.get('content-type')).toBe('text/event-stream');
      const completed = streamedFanOut.events.at(-1)!;
      expect(completed.event).toBe('tool_calls.completed');
      check('POST', '/v1/tool-calls', 200, JSON.parse(completed.data));
      const events = await readSse(`${cluster.api.baseUrl}/v1/tasks/${created.body.id}/events`, { headers: { authorization: `Bearer ${KEY}` } });
      expect(events.headers.get('content-type')).toBe('text/event-stream');
      expect(events.events.at(-1)!.event).toBe('task.finished');

      const waiting = await acme.post('/v1/tasks', ask([{ id: 'slow', name: 'nap', arguments: { ms: 5000 } }]));
      const cancelled = await acme.post(`/v1/tasks/${waiting.body.id}/cancel`, {});
      check('POST', '/v1/tasks/:id/cancel', cancelled.status, cancelled.body);
      const refused = await acme.post(`/v1/tasks/${waiting.body.id}/approvals`, { decisions: [{ tool_call_id: 'slow', approve: true }] });
      check('POST', '/v1/tasks/:id/approvals', refused.status, refused.body);
      const deleted = await acme.request('DELETE', `/v1/tasks/${created.body.id}`);
      check('DELETE', '/v1/tasks/:id', deleted.status, deleted.body);
      for (const [method, url, path, body] of [
        ['GET', '/v1/tasks/:id', '/v1/tasks/gone', undefined],
        ['GET', '/v1/tasks', '/v1/tasks?colour=red', undefined],
        ['POST', '/v1/tasks', '/v1/tasks', { messages: [] }],
        ['POST', '/v1/tool-calls', '/v1/tool-calls', { message: assistant() }],
      ] as const) {
        const answer = await acme.request(method, path, body);
        expect(answer.status).toBeGreaterThanOrEqual(400);
        check(method, url, answer.status, answer.body);
      }
      const question = `calls:${JSON.stringify([{ id: 'w', name: 'nap', arguments: { ms: 1 } }])}`;
      const completion = await acme.post('/v1/chat/completions', { model: 'scripted', messages: [{ role: 'user', content: question }] });
      check('POST', '/v1/chat/completions', completion.status, completion.body);
      expect(completion.body.object).toBe('chat.completion');
      const response = await acme.post('/v1/responses', { model: 'scripted', input: question });
      check('POST', '/v1/responses', response.status, response.body);
      expect(response.body.status).toBe('completed');
      const again = await acme.get(`/v1/responses/${response.body.id}`);
      check('GET', '/v1/responses/:id', again.status, again.body);
      const missing = await acme.get('/v1/responses/resp_nope');
      check('GET', '/v1/responses/:id', missing.status, missing.body);
      expect(missing.body.error).toMatchObject({ code: 'response_not_found', type: 'not_found_error' });
      const refusedDoor = await acme.post('/v1/chat/completions', { model: 'scripted', messages: [] });
      check('POST', '/v1/chat/completions', refusedDoor.status, refusedDoor.body);
      expect(refusedDoor.body.error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error' });

      const health = await cluster.api.get('/readyz');
      check('GET', '/readyz', health.status, health.body);

      expect(cluster.orchestrators[0]!.lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
    });
  });

  describe('GET /docs', () => {
    it('serves the reference page without a key, every file of it from this origin', async () => {
      const base = cluster.api.baseUrl;
      for (const url of ['/docs', '/docs/']) {
        const page = await fetch(`${base}${url}`);
        expect(page.status, url).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        const csp = page.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("default-src 'self'");
        expect(csp).not.toMatch(/https?:|\*/);
        const html = await page.text();
        const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
        expect(assets.length).toBeGreaterThanOrEqual(5);
        for (const asset of assets) {
          const resolved = new URL(asset, `${base}${url}`);
          expect(resolved.origin, asset).toBe(base);
          const file = await fetch(resolved);
          expect(file.status, resolved.pathname).toBe(200);
          if (resolved.pathname.endsWith('.css')) expect(await file.text()).not.toMatch(/url\(\s*['"]?(https?:)?\/\//);
          else await file.arrayBuffer();
        }
      }
      const initializer = await (await fetch(`${base}/docs/static/swagger-initializer.js`)).text();
      expect(initializer).toContain("resolveUrl('./json')");
      expect(initializer).toContain('validatorUrl: null');
      const spec = await fetch(`${base}/docs/json`);
      expect(spec.status).toBe(200);
      expect(await spec.json()).toEqual(document);
    });

    it('renders every operation in a browser, asking no other host and breaking no policy', async () => {
      expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`).toBe(true);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        const hosts = new Set<string>();
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(message.text());
        });
        page.on('request', (request) => hosts.add(new URL(request.url()).origin));
        await page.goto(`${cluster.api.baseUrl}/docs`);
        await page.waitForSelector('.opblock', { timeout: 20_000 });
        const operations = Object.values(document.paths).reduce((sum, item) => sum + Object.keys(item).length, 0);
        expect(await page.locator('.opblock').count()).toBe(operations);
        expect(problems).toEqual([]);
        expect([...hosts]).toEqual([cluster.api.baseUrl]);
      } finally {
        await browser.close();
      }
    });
  });
});
