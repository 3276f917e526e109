import { fileURLToPath } from 'node:url';
import { waitFor, type NodeProcess } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, TEST_TOOLS, type Api, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

const LOCK_TOOLS = fileURLToPath(new URL('./fixtures/lock-tools.ts', import.meta.url));
const FAR_TOOLS = fileURLToPath(new URL('./fixtures/far-pool-tools.ts', import.meta.url));
const ACME_KEY = 'acme-key-0123456789abcdef';
const GLOBEX_KEY = 'globex-key-0123456789abcdef';

type Claim = { key: string; mode: 'read' | 'write'; shared?: boolean };
const w = (key: string): Claim => ({ key, mode: 'write' });
const hold = (id: string, claims: Claim[], ms: number, name = 'hold') => call(id, name, { claims, ms, label: id });
const append = (id: string, account: string, amount: number) => call(id, 'ledger_append', { account, amount, memo: id });
type Held = { label: string; enter: number; exit: number; tenant: string | null; fencingToken: number | Record<string, number> | null };

async function fanOut(api: Api, toolCalls: unknown[], extra: Record<string, unknown> = {}) {
  const { status, body } = await api.post('/v1/tool-calls', { message: assistant(...toolCalls), ...extra });
  expect(status, JSON.stringify(body)).toBe(200);
  return body as { messages: Array<{ tool_call_id: string; content: string }>; calls: any[] };
}

const contents = (body: { messages: Array<{ content: string }> }) => body.messages.map((message) => JSON.parse(message.content));
const overlap = (a: Held, b: Held) => a.enter < b.exit - 0.5 && b.enter < a.exit - 0.5;

describe('lock keys, tokens and order across tenants and modes', () => {
  let cluster: Cluster;
  let redis: Redis;
  let acme: Api;
  let globex: Api;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, LOCK_TOOLS],
      orchestratorEnv: { VOLLEY_API_KEYS: `${ACME_KEY}:acme,${GLOBEX_KEY}:globex` },
    });
    redis = cluster.client;
    acme = cluster.api.withHeaders({ authorization: `Bearer ${ACME_KEY}` });
    globex = cluster.api.withHeaders({ authorization: `Bearer ${GLOBEX_KEY}` });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when two tenants name the same key', () => {
    it("keeps them apart: one tenant's record:7 does not block another's, and tools see their tenant", async () => {
      const [a, b] = await Promise.all([fanOut(acme, [hold('a', [w('record:7')], 600)]), fanOut(globex, [hold('b', [w('record:7')], 600)])]);
      const [heldA, heldB] = [contents(a)[0] as Held, contents(b)[0] as Held];
      expect([heldA.tenant, heldB.tenant]).toEqual(['acme', 'globex']);
      expect(overlap(heldA, heldB)).toBe(true);
    });

    it('still excludes the calls of one tenant', async () => {
      const [a, b] = await Promise.all([fanOut(acme, [hold('a1', [w('record:8')], 300)]), fanOut(acme, [hold('a2', [w('record:8')], 300)])]);
      expect(overlap(contents(a)[0], contents(b)[0])).toBe(false);
    });

    it('excludes across tenants a key the tool declares shared', async () => {
      const printer: Claim = { key: 'printer', mode: 'write', shared: true };
      const [a, b] = await Promise.all([fanOut(acme, [hold('pa', [printer], 300)]), fanOut(globex, [hold('pb', [printer], 300)])]);
      expect(overlap(contents(a)[0], contents(b)[0])).toBe(false);
    });

    it("keeps each tenant's ledger account apart, fenced by its own lock", async () => {
      await fanOut(acme, [append('acme-deposit', 'acct-t', 5)]);
      await fanOut(globex, [append('globex-deposit', 'acct-t', 7)]);
      const [acmeBalance] = contents(await fanOut(acme, [call('b1', 'ledger_balance', { account: 'acct-t' })]));
      const [globexBalance] = contents(await fanOut(globex, [call('b2', 'ledger_balance', { account: 'acct-t' })]));
      expect(acmeBalance).toMatchObject({ balance: 5, entries: 1 });
      expect(globexBalance).toMatchObject({ balance: 7, entries: 1 });
      expect(await redis.get('volley:ledger:@acme/acct-t:balance')).toBe('5');
    });
  });

  describe('when a message runs sequentially', () => {
    it('hands out tokens of the same shape as in parallel, and the ledger takes both modes on one account', async () => {
      const parallel = await fanOut(acme, [append('p1', 'acct-s', 10), hold('p-one', [w('k1')], 1), hold('p-two', [w('k1'), w('k2')], 1)]);
      const sequential = await fanOut(
        acme,
        [append('s1', 'acct-s', 1), append('s2', 'acct-s', 2), hold('s-one', [w('k1')], 1), hold('s-two', [w('k1'), w('k2')], 1)],
        {
          execution: 'sequential',
        },
      );
      const again = await fanOut(acme, [append('p2', 'acct-s', 4)]);
      for (const body of [parallel, sequential, again]) expect(body.calls.map((c) => c.status)).toEqual(body.calls.map(() => 'succeeded'));

      const [p1, pOne, pTwo] = contents(parallel);
      const [s1, s2, sOne, sTwo] = contents(sequential);
      const [p2] = contents(again);
      expect(typeof pOne.fencingToken).toBe('number');
      expect(typeof sOne.fencingToken).toBe('number');
      expect(Object.keys(pTwo.fencingToken).sort()).toEqual(['k1', 'k2']);
      expect(Object.keys(sTwo.fencingToken).sort()).toEqual(['k1', 'k2']);
      const tokens = [p1, s1, s2, p2].map((entry) => entry.fencing_token as number);
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
      expect([p1, s1, s2, p2].map((entry) => entry.balance)).toEqual([10, 11, 13, 17]);
    });
  });

  describe('when an earlier message cannot declare all its claims yet', () => {
    let far: NodeProcess;

    beforeAll(async () => {
      far = await cluster.addWorker('far-1', { VOLLEY_POOL: 'far', VOLLEY_TOOL_MODULES: FAR_TOOLS, VOLLEY_BUILTIN_TOOLS: 'false' });
      await waitFor(async () => ((await acme.get('/v1/tools')).body.tools as any[]).some((tool) => tool.function.name === 'hold_far'));
    });

    it('lets a later message on the same key go first: tickets enter the lines once their message has declared', async () => {
      const plansBefore = new Set(await redis.keys('volley:lockplan:*'));
      far.pause();
      let firstDone: number | undefined;
      const first = fanOut(acme, [hold('m1-near', [w('order:1')], 100), hold('m1-far', [w('order:2')], 10, 'hold_far')]).then((body) => {
        firstDone = Date.now();
        return body;
      });
      // Its near call was picked up and declared; its far call waits for a worker of its pool.
      await waitFor(async () => {
        for (const key of await redis.keys('volley:lockplan:*')) {
          if (!plansBefore.has(key) && (await redis.hlen(key)) === 1) return true;
        }
        return false;
      });
      const second = await fanOut(acme, [hold('m2', [w('order:1')], 100)]);
      const secondDone = Date.now();
      far.resume();
      const firstBody = await first;
      const m1near = contents(firstBody)[0] as Held;
      const m2 = contents(second)[0] as Held;
      expect(m1near.enter).toBeGreaterThanOrEqual(m2.exit - 0.5);
      expect(firstDone!).toBeGreaterThan(secondDone);
    });
  });

  describe('bookkeeping', () => {
    it('leaves no lock key without an expiry but the one sequence, after 30 sequential fan-outs', async () => {
      for (let n = 0; n < 30; n += 1) {
        const body = await fanOut(acme, [call(`nap-${n}`, 'nap', { ms: 0 }), append(`seq-${n}`, 'acct-b', 1)], { execution: 'sequential' });
        expect(body.calls.map((c) => c.status)).toEqual(['succeeded', 'succeeded']);
      }
      const keys = await redis.keys('volley:lock*');
      const withoutExpiry: string[] = [];
      for (const key of keys) if ((await redis.pttl(key)) < 0) withoutExpiry.push(key);
      expect(withoutExpiry).toEqual(['volley:lock:seq']);
      // Every line, mode and holder key is gone once its calls are: nothing is left in line.
      expect(keys.filter((key) => /^volley:lock:[qmhf]:/.test(key))).toEqual([]);
      expect(keys.filter((key) => key.startsWith('volley:lockplan:')).length).toBeGreaterThanOrEqual(30);
      for (const key of await redis.keys('volley:callresult:*')) expect(await redis.pttl(key)).toBeGreaterThan(0);
    });
  });
});
