import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Responder } from '@volley/scripted-model';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

const newKey = () => `vk_${randomBytes(24).toString('hex')}`;
const KEYS = { acme: newKey(), globex: newKey(), initech: newKey() };
const WRONG_KEY = newKey();
const ALL_TOOLS = ['echo', 'explode', 'get_time', 'get_weather', 'hang', 'ledger_append', 'ledger_balance', 'lookup_order', 'nap', 'prototype_keys', 'sleep'];

const user = (content: string) => ({ messages: [{ role: 'user', content }] });

/** "use forbidden tools" gets a nap and an explode in one message; anything else a plain answer. */
const respond: Responder = (request) => {
  if (request.messages.at(-1)?.role === 'tool') return { content: 'read the results' };
  const question = String(request.messages.findLast((message) => message.role === 'user')?.content ?? '');
  if (question.includes('use forbidden tools')) {
    return {
      content: null,
      tool_calls: [
        { id: 'allowed', name: 'nap', arguments: { ms: 1 } },
        { id: 'forbidden', name: 'explode', arguments: {} },
      ],
    };
  }
  return { content: 'done' };
};

describe('security', () => {
  describe('with API keys, tenants and tool rules', () => {
    let cluster: Cluster;
    let acme: Api;
    let globex: Api;
    let initech: Api;

    beforeAll(async () => {
      cluster = await startCluster({
        workers: 1,
        respond,
        orchestratorEnv: {
          VOLLEY_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex,${KEYS.initech}:initech`,
          VOLLEY_TENANT_TOOLS: 'globex=nap|echo;initech=*',
          VOLLEY_BODY_LIMIT_BYTES: String(64 * 1024),
        },
      });
      acme = cluster.api.withHeaders({ authorization: `Bearer ${KEYS.acme}` });
      globex = cluster.api.withHeaders({ 'x-api-key': KEYS.globex });
      initech = cluster.api.withHeaders({ authorization: `Bearer ${KEYS.initech}` });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    describe('when a request carries no valid key', () => {
      const routes: Array<[string, string, unknown]> = [
        ['GET', '/v1/tools', undefined],
        ['POST', '/v1/tasks', user('hi')],
        ['GET', '/v1/tasks/some-id', undefined],
        ['POST', '/v1/tasks/some-id/cancel', undefined],
        ['POST', '/v1/tool-calls', { message: assistant(call('a', 'nap', { ms: 1 })) }],
        ['GET', '/v1/no-such-route', undefined],
      ];

      it.each(routes)('%s %s without a key → 401 unauthorized', async (method, path, body) => {
        const response = await cluster.api.exchange(method, path, body);
        expect(response.status).toBe(401);
        expect(response.body).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(/API key is required/) } });
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="volley"');
      });

      it.each([
        ['a wrong bearer token', { authorization: `Bearer ${WRONG_KEY}` }, /invalid API key/],
        ['a wrong x-api-key', { 'x-api-key': WRONG_KEY }, /invalid API key/],
        ['a key of another scheme', { authorization: `Basic ${KEYS.acme}` }, /Bearer <API key>/],
        ['two different keys', { authorization: `Bearer ${KEYS.acme}`, 'x-api-key': KEYS.globex }, /different keys/],
        ['a valid key with a character missing', { 'x-api-key': KEYS.acme.slice(0, -1) }, /invalid API key/],
      ])('refuses %s with 401', async (_what, headers, message) => {
        for (const [method, path, body] of routes.slice(0, 3)) {
          const response = await cluster.api.request(method, path, body, undefined, headers);
          expect(response.status).toBe(401);
          expect(response.body.error).toEqual({ code: 'unauthorized', message: expect.stringMatching(message) });
        }
      });

      it('refuses before reading the body: an oversized body without a key is a 401, with a key a 413', async () => {
        const huge = user('x'.repeat(100 * 1024));
        expect((await cluster.api.post('/v1/tasks', huge)).status).toBe(401);
        const withKey = await acme.post('/v1/tasks', huge);
        expect(withKey.status).toBe(413);
        expect(withKey.body.error.code).toBe('payload_too_large');
      });

      it('leaves the probes and the Prometheus scrape open', async () => {
        expect((await cluster.api.get('/healthz')).status).toBe(200);
        expect((await cluster.api.get('/readyz')).body).toEqual({ status: 'ready' });
        expect((await fetch(`${cluster.api.baseUrl}/metrics`)).status).toBe(200);
      });
    });

    describe('when a request carries a valid key', () => {
      it('accepts it as a bearer token or as x-api-key', async () => {
        expect((await cluster.api.request('GET', '/v1/tools', undefined, undefined, { authorization: `Bearer ${KEYS.acme}` })).status).toBe(200);
        expect((await cluster.api.request('GET', '/v1/tools', undefined, undefined, { 'x-api-key': KEYS.acme })).status).toBe(200);
        expect(
          (await cluster.api.request('GET', '/v1/tools', undefined, undefined, { authorization: `bearer ${KEYS.acme}`, 'x-api-key': KEYS.acme })).status,
        ).toBe(200);
      });
    });

    describe('when tenants look at tasks', () => {
      it('lets a tenant see its own task, and answers another tenant exactly as for a missing task', async () => {
        const created = await acme.post('/v1/tasks', user('whose task is this'));
        expect(created.status).toBe(202);
        const task = await acme.waitForTask(created.body.id);
        expect(task).toMatchObject({ status: 'completed', tenant: 'acme', output: 'done' });

        const foreign = await globex.get(`/v1/tasks/${created.body.id}`);
        const missingId = '00000000-0000-4000-8000-000000000000';
        const missing = await globex.get(`/v1/tasks/${missingId}`);
        expect(foreign.status).toBe(404);
        expect(missing.status).toBe(404);
        expect(foreign.body).toEqual({ error: { code: 'not_found', message: `no task with id "${created.body.id}"` } });
        expect(missing.body).toEqual({ error: { code: 'not_found', message: `no task with id "${missingId}"` } });
      });

      it("does not let a tenant cancel another's task", async () => {
        const created = await acme.post('/v1/tasks', user('do not cancel me'));
        const cancel = await globex.post(`/v1/tasks/${created.body.id}/cancel`, {});
        expect(cancel.status).toBe(404);
        expect(cancel.body.error.code).toBe('not_found');
        expect((await acme.waitForTask(created.body.id)).status).toBe('completed');
      });
    });

    describe('when a tenant may use only some tools', () => {
      it('lists only those', async () => {
        const names = async (api: Api) => (await api.get('/v1/tools')).body.tools.map((tool: any) => tool.function.name).sort();
        expect(await names(globex)).toEqual(['echo', 'nap']);
        expect(await names(acme)).toEqual(ALL_TOOLS);
        expect(await names(initech)).toEqual(ALL_TOOLS);
      });

      it('refuses to offer another tool, exactly as if it did not exist', async () => {
        const forbidden = await globex.post('/v1/tasks', { ...user('hi'), tools: ['nap', 'explode'] });
        const nonexistent = await globex.post('/v1/tasks', { ...user('hi'), tools: ['nap', 'warp_drive'] });
        expect(forbidden.status).toBe(400);
        expect(forbidden.body.error.code).toBe('unknown_tool');
        expect(forbidden.body.error.message.replace('explode', 'X')).toBe(nonexistent.body.error.message.replace('warp_drive', 'X'));
        expect((await acme.post('/v1/tasks', { ...user('hi'), tools: ['explode'] })).status).toBe(202);
      });

      it('offers the model only those when the task names none', async () => {
        const created = await globex.post('/v1/tasks', user('what may globex use'));
        const task = await globex.waitForTask(created.body.id);
        expect(task.tools).toEqual(['echo', 'nap']);
        const request = cluster.model.requests.find((r) => r.body.messages[0]?.content === 'what may globex use');
        expect(request!.body.tools?.map((tool) => tool.function.name).sort()).toEqual(['echo', 'nap']);

        const other = await initech.post('/v1/tasks', user('what may initech use'));
        expect((await initech.waitForTask(other.body.id)).tools).toBeNull();
        const initechRequest = cluster.model.requests.find((r) => r.body.messages[0]?.content === 'what may initech use');
        expect(initechRequest!.body.tools?.map((tool) => tool.function.name).sort()).toEqual(ALL_TOOLS);
      });

      it('turns a model call of another tool into an unknown_tool error: it never runs', async () => {
        const asGlobex = await globex.waitForTask((await globex.post('/v1/tasks', user('use forbidden tools'))).body.id);
        const asAcme = await acme.waitForTask((await acme.post('/v1/tasks', user('use forbidden tools'))).body.id);
        const results = (task: any) =>
          Object.fromEntries(task.messages.filter((m: any) => m.role === 'tool').map((m: any) => [m.tool_call_id, JSON.parse(m.content)]));
        expect(asGlobex.status).toBe('completed');
        expect(results(asGlobex).allowed.worker).toBe('worker-1');
        expect(results(asGlobex).forbidden.error.code).toBe('unknown_tool');
        expect(asGlobex.turns[0].tool_calls[1]).toMatchObject({ name: 'explode', pool: null, worker_id: null });
        // The same call by a tenant that may use explode runs it (and it throws, as it always does).
        expect(results(asAcme).forbidden.error.code).toBe('tool_error');
      });

      it('answers a bare fan-out call of another tool with an unknown_tool error message', async () => {
        const message = assistant(call('ok', 'nap', { ms: 1 }), call('no', 'explode'));
        const response = await globex.post('/v1/tool-calls', { message });
        expect(response.status).toBe(200);
        expect(JSON.parse(response.body.messages[0].content).worker).toBe('worker-1');
        expect(JSON.parse(response.body.messages[1].content).error.code).toBe('unknown_tool');
        expect(response.body.calls[1]).toMatchObject({ status: 'failed', pool: null });
        const asAcme = await acme.post('/v1/tool-calls', { message });
        expect(JSON.parse(asAcme.body.messages[1].content).error.code).toBe('tool_error');
      });
    });

    describe('when the logs are read', () => {
      it('says auth is on and names the tenants, but holds no key anywhere', async () => {
        const [orchestrator] = cluster.orchestrators;
        const on = await orchestrator!.waitForLine((line) => line.msg === 'API key authentication on');
        expect(on).toMatchObject({ keys: 3, tenants: ['acme', 'globex', 'initech'], restricted_tenants: ['globex'] });
        expect(orchestrator!.lines.some((line) => line.msg === 'request refused: unauthorized')).toBe(true);
        const everything = [...cluster.orchestrators, ...cluster.workers].map((child) => child.output()).join('\n');
        for (const key of [...Object.values(KEYS), WRONG_KEY]) {
          expect(everything).not.toContain(key);
          expect(everything).not.toContain(key.slice(3, 27));
        }
      });
    });
  });

  describe('with auth off and a rate limit of 3 tasks a minute', () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await startCluster({ workers: 1, orchestrators: 2, respond, orchestratorEnv: { VOLLEY_TASK_RATE_LIMIT: '3' } });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('warns at start that anyone may use the API', async () => {
      const line = await cluster.orchestrators[0]!.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('API key authentication is OFF'));
      expect(line.level).toBe(40);
      expect(line.task_rate_limit).toBe('3 tasks/minute per tenant');
    });

    it('serves every route without a key, as before', async () => {
      const tools = await cluster.api.get('/v1/tools');
      expect(tools.status).toBe(200);
      expect(tools.body.tools.map((tool: any) => tool.function.name).sort()).toEqual(ALL_TOOLS);
      const fanOut = await cluster.api.post('/v1/tool-calls', { message: assistant(call('a', 'nap', { ms: 1 }), call('b', 'explode')) });
      expect(fanOut.status).toBe(200);
      expect(JSON.parse(fanOut.body.messages[1].content).error.code).toBe('tool_error');
    });

    it('lets 3 submissions through, across instances, then answers 429 with retry-after', async () => {
      const [first, second] = cluster.apis;
      const accepted = [];
      for (const api of [first!, second!, first!]) accepted.push(await api.post('/v1/tasks', user('use forbidden tools')));
      expect(accepted.map((response) => response.status)).toEqual([202, 202, 202]);

      const refused = await second!.exchange('POST', '/v1/tasks', user('one too many'));
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({
        error: { code: 'rate_limited', message: expect.stringMatching(/anonymous callers may submit 3 tasks a minute; retry in \d+ s/) },
      });
      const retryAfter = Number(refused.headers.get('retry-after'));
      // 3 a minute is a token every 20 s, and three were just taken.
      expect(retryAfter).toBeGreaterThan(15);
      expect(retryAfter).toBeLessThanOrEqual(20);
      expect((await first!.post('/v1/tasks', user('still too many'))).status).toBe(429);

      // Only submission is limited: the accepted tasks run and can be read, tool calls go on.
      for (const response of accepted) {
        const task = await cluster.api.waitForTask(response.body.id);
        expect(task).toMatchObject({ status: 'completed', tenant: null });
      }
      expect((await cluster.api.post('/v1/tool-calls', { message: assistant(call('c', 'nap', { ms: 1 })) })).status).toBe(200);
    });
  });

  describe('with keys in a file that is rotated while the orchestrator runs', () => {
    const ROTATION = { first: newKey(), second: newKey(), third: newKey(), refused: newKey(), globex: newKey() };
    let cluster: Cluster;
    let dir: string;
    let file: string;

    /** As Kubernetes swaps a Secret: the new file is written aside, then renamed over the old. */
    const rotateTo = async (text: string) => {
      await writeFile(`${file}.next`, text);
      await rename(`${file}.next`, file);
    };
    const statusWith = async (key: string) => (await cluster.api.withHeaders({ authorization: `Bearer ${key}` }).exchange('GET', '/v1/tools')).status;
    /** Waits, when called, for the next line `msg` with this reason, after those logged by now. */
    const nextLine = (msg: string, reason: string) => {
      const orchestrator = cluster.orchestrators[0]!;
      const seen = orchestrator.lines.length;
      return () => waitFor(() => orchestrator.lines.slice(seen).find((line) => line.msg === msg && line.reason === reason));
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'volley-keys-'));
      file = join(dir, 'keys');
      await writeFile(file, `# rotated by the test\n${ROTATION.first}:acme\n${ROTATION.globex}:globex\n`);
      cluster = await startCluster({ workers: 1, respond, orchestratorEnv: { VOLLEY_API_KEYS_FILE: file, VOLLEY_TENANT_TOOLS: 'globex=nap' } });
    });

    afterAll(async () => {
      await cluster?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('takes the new keys on SIGHUP: the new key works at once, the old one is refused', async () => {
      expect(await statusWith(ROTATION.first)).toBe(200);
      const reloaded = nextLine('API keys reloaded', 'SIGHUP');
      await rotateTo(`${ROTATION.second}:acme\n${ROTATION.globex}:globex\n`);
      cluster.orchestrators[0]!.child.kill('SIGHUP');
      expect(await reloaded()).toMatchObject({ keys: 2, tenants: ['acme', 'globex'] });
      expect(await statusWith(ROTATION.second)).toBe(200);
      expect(await statusWith(ROTATION.first)).toBe(401);
      expect(await statusWith(ROTATION.globex)).toBe(200);
    });

    it('notices a changed file by itself within seconds', async () => {
      const reloaded = nextLine('API keys reloaded', 'file changed');
      await rotateTo(`${ROTATION.third}:acme\n${ROTATION.globex}:globex\n`);
      await reloaded();
      expect(await statusWith(ROTATION.third)).toBe(200);
      expect(await statusWith(ROTATION.second)).toBe(401);
    });

    it('keeps the keys in force when the new file fails the start-up checks, and says why without a key', async () => {
      const refused = nextLine('API keys not reloaded: the old keys stay in force', 'SIGHUP');
      // The tool rules name globex, whose key this file drops: refused, as it would be at start.
      await rotateTo(`${ROTATION.refused}:acme\n`);
      cluster.orchestrators[0]!.child.kill('SIGHUP');
      const line = await refused();
      expect(line.level).toBe(50);
      expect(String(line.problem)).toContain('no API key belongs to tenant globex');
      expect(await statusWith(ROTATION.third)).toBe(200);
      expect(await statusWith(ROTATION.refused)).toBe(401);
      const everything = cluster.orchestrators.map((child) => child.output()).join('\n');
      for (const key of Object.values(ROTATION)) expect(everything).not.toContain(key);
    });
  });
});
