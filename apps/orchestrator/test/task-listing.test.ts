import { randomBytes, randomUUID } from 'node:crypto';
import type { Responder } from '@volley/scripted-model';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';
import { ask, callsFromQuestion } from './support/scripted-calls.ts';
import { keysMatching } from './support/volley-keys.ts';

const newKey = () => `vk_${randomBytes(24).toString('hex')}`;
const KEYS = { acme: newKey(), globex: newKey(), pager: newKey() };

const respond: Responder = (request) => {
  const question = String(request.messages.findLast((m) => m.role === 'user')?.content ?? '');
  return question.includes('calls:') ? callsFromQuestion(request) : { content: 'done' };
};

const plain = (metadata?: Record<string, string>) => ({ messages: [{ role: 'user', content: 'hello' }], ...(metadata ? { metadata } : {}) });
const napping = (ms: number, metadata?: Record<string, string>) => ({
  ...ask([{ id: 'n', name: 'nap', arguments: { ms } }]),
  ...(metadata ? { metadata } : {}),
});

type Page = { tasks: Array<{ id: string; status: string; created_at: number; metadata: Record<string, string> }>; next_cursor: string | null };

describe('task metadata, listing and deletion', () => {
  let cluster: Cluster;
  let acme: Api;
  let globex: Api;
  let pager: Api;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 1,
      respond,
      orchestratorEnv: { VOLLEY_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex,${KEYS.pager}:pager`, VOLLEY_TASK_RATE_LIMIT: '0' },
    });
    acme = cluster.api.withHeaders({ authorization: `Bearer ${KEYS.acme}` });
    globex = cluster.api.withHeaders({ authorization: `Bearer ${KEYS.globex}` });
    pager = cluster.api.withHeaders({ authorization: `Bearer ${KEYS.pager}` });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const create = async (api: Api, body: unknown): Promise<string> => {
    const { status, body: answer } = await api.post('/v1/tasks', body);
    expect(status, JSON.stringify(answer)).toBe(202);
    return answer.id as string;
  };

  describe('metadata', () => {
    it('comes back on the record and in the listing', async () => {
      const metadata = { team: 'search', 'run.id': 'r-42', empty: '' };
      const id = await create(acme, plain(metadata));
      const record = await acme.waitForTask(id);
      expect(record.metadata).toEqual(metadata);
      const listed = (await acme.get<Page>('/v1/tasks?metadata.run.id=r-42')).body;
      expect(listed.tasks).toEqual([
        { id, status: 'completed', created_at: record.created_at, updated_at: record.updated_at, model: 'scripted', metadata, usage: record.usage },
      ]);
    });

    it('is {} when none was given', async () => {
      const id = await create(acme, plain());
      expect((await acme.get(`/v1/tasks/${id}`)).body.metadata).toEqual({});
    });

    it('takes 16 pairs, keys of 64 and values of 512 characters', async () => {
      const metadata = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'v']));
      const id = await create(acme, plain({ ...metadata, ['k'.repeat(64)]: 'v'.repeat(512) }));
      expect(Object.keys((await acme.get(`/v1/tasks/${id}`)).body.metadata)).toHaveLength(16);
    });

    it.each([
      ['17 pairs', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']))],
      ['a key of 65 characters', { ['k'.repeat(65)]: 'v' }],
      ['an empty key', { '': 'v' }],
      ['a key with a space', { 'a b': 'v' }],
      ['a key with a colon', { 'a:b': 'v' }],
      ['a value of 513 characters', { a: 'v'.repeat(513) }],
      ['a value that is a number', { a: 1 }],
      ['a value that is an object', { a: { b: 'c' } }],
    ])('refuses %s with 400 invalid_request', async (_what, metadata) => {
      const { status, body } = await acme.post('/v1/tasks', { ...plain(), metadata });
      expect(status).toBe(400);
      expect(body.error.code).toBe('invalid_request');
    });

    it('refuses metadata that is not an object', async () => {
      for (const metadata of [null, [], 'x']) expect((await acme.post('/v1/tasks', { ...plain(), metadata })).status).toBe(400);
    });
  });

  describe('GET /v1/tasks', () => {
    it('pages through a tenant’s tasks newest first, with no repeat or gap while new tasks arrive', async () => {
      const made: string[] = [];
      for (let i = 0; i < 23; i += 1) made.push(await create(pager, plain({ batch: 'old', i: String(i) })));
      const seen: Page['tasks'] = [];
      let page = (await pager.get<Page>('/v1/tasks?limit=5')).body;
      // New tasks from now on land ahead of the first page: none may show up behind it.
      let arriving = true;
      const arrivals = (async () => {
        const ids: string[] = [];
        while (arriving) ids.push(await create(pager, plain({ batch: 'new' })));
        return ids;
      })();
      let pages = 1;
      seen.push(...page.tasks);
      while (page.next_cursor) {
        expect(page.tasks.length).toBe(5);
        page = (await pager.get<Page>(`/v1/tasks?limit=5&cursor=${encodeURIComponent(page.next_cursor)}`)).body;
        seen.push(...page.tasks);
        pages += 1;
      }
      arriving = false;
      const newer = await arrivals;
      expect(newer.length).toBeGreaterThan(0);
      expect(pages).toBe(5);
      expect(seen.map((t) => t.id)).toEqual([...made].reverse());
      const times = seen.map((t) => t.created_at);
      expect(times).toEqual([...times].sort((a, b) => b - a));
      // And the first page now starts with the newest arrival.
      expect((await pager.get<Page>('/v1/tasks?limit=1')).body.tasks[0]!.id).toBe(newer.at(-1));
    });

    it('filters by status and by several metadata pairs at once', async () => {
      const tag = randomUUID();
      const done = await create(acme, plain({ tag, env: 'prod', team: 'a' }));
      const otherTeam = await create(acme, plain({ tag, env: 'prod', team: 'b' }));
      const running = await create(acme, napping(5_000, { tag, env: 'prod', team: 'a' }));
      await acme.waitForTask(done);
      await acme.waitForTask(otherTeam);
      const ids = async (query: string) => (await acme.get<Page>(`/v1/tasks?metadata.tag=${tag}${query}`)).body.tasks.map((t) => t.id);
      expect(await ids('')).toEqual([running, otherTeam, done]);
      expect(await ids('&metadata.team=a&metadata.env=prod')).toEqual([running, done]);
      expect(await ids('&metadata.team=a&metadata.env=dev')).toEqual([]);
      expect(await ids('&status=completed')).toEqual([otherTeam, done]);
      expect(await ids('&status=completed&metadata.team=a')).toEqual([done]);
      expect(await ids('&status=failed')).toEqual([]);
      // A running task is listed with the status it has now, as its record shows it.
      expect(await ids('&status=queued')).toEqual([]);
      const live = (await acme.get<Page>(`/v1/tasks?metadata.tag=${tag}&status=running`)).body.tasks;
      expect(live.map((t) => t.id)).toEqual([running]);
      const cancelled = await acme.post(`/v1/tasks/${running}/cancel`, {});
      expect(cancelled.body.status).toBe('cancelled');
      expect(await ids('&status=cancelled')).toEqual([running]);
    });

    it('shows each tenant only its own tasks', async () => {
      const tag = randomUUID();
      const mine = await create(acme, plain({ tag }));
      const theirs = await create(globex, plain({ tag }));
      expect((await acme.get<Page>(`/v1/tasks?metadata.tag=${tag}`)).body.tasks.map((t) => t.id)).toEqual([mine]);
      expect((await globex.get<Page>(`/v1/tasks?metadata.tag=${tag}`)).body.tasks.map((t) => t.id)).toEqual([theirs]);
      // A cursor made from another tenant's task shows nothing of it either.
      const cursor = Buffer.from(JSON.stringify([Date.now() + 1000, mine])).toString('base64url');
      expect((await globex.get<Page>(`/v1/tasks?metadata.tag=${tag}&cursor=${cursor}`)).body.tasks.map((t) => t.id)).toEqual([theirs]);
    });

    it.each([['limit=0'], ['limit=101'], ['status=done'], ['colour=red'], ['cursor=bm90LWEtY3Vyc29y'], ['metadata.a%20b=1'], ['status=queued&status=running']])(
      'answers %s with 400 invalid_request',
      async (query) => {
        const { status, body } = await acme.get(`/v1/tasks?${query}`);
        expect(status).toBe(400);
        expect(body.error.code).toBe('invalid_request');
      },
    );
  });

  describe('DELETE /v1/tasks/:id', () => {
    it('removes a finished task and every key of it', async () => {
      const id = await create(acme, {
        ...ask([
          { id: 'pay', name: 'ledger_append', arguments: { account: `del-${randomUUID().slice(0, 8)}`, amount: 1 } },
          { id: 'n', name: 'nap', arguments: { ms: 1 } },
        ]),
        metadata: { del: id0 },
      });
      await acme.waitForTask(id);
      expect(await keysMatching(cluster.client, `*${id}*`)).not.toEqual([]);
      const answer = await acme.request('DELETE', `/v1/tasks/${id}`);
      expect(answer).toEqual({ status: 200, body: { id, deleted: true } });
      expect((await acme.get(`/v1/tasks/${id}`)).status).toBe(404);
      expect((await acme.get<Page>(`/v1/tasks?metadata.del=${id0}`)).body.tasks).toEqual([]);
      expect(await keysMatching(cluster.client, `*${id}*`)).toEqual([]);
      expect(await cluster.client.zscore('volley:tasks:acme', id)).toBeNull();
      expect((await acme.request('DELETE', `/v1/tasks/${id}`)).status).toBe(404);
    });

    it('removes what its calls left beside the record too: their approval records and lock-wait flags', async () => {
      const account = `del-${randomUUID().slice(0, 8)}`;
      const id = await create(acme, {
        // Two writes of one account in one message: the second parks behind the first.
        ...ask([
          { id: 'first', name: 'ledger_append', arguments: { account, amount: 1 } },
          { id: 'second', name: 'ledger_append', arguments: { account, amount: 2 } },
          { id: 'n', name: 'nap', arguments: { ms: 1 } },
        ]),
        require_approval: ['nap'],
      });
      await waitFor(async () => (await acme.get(`/v1/tasks/${id}`)).body.pending_approvals?.length === 1);
      expect((await acme.post(`/v1/tasks/${id}/approvals`, { decisions: [{ tool_call_id: 'n', approve: true }] })).status).toBe(200);
      expect((await acme.waitForTask(id)).status).toBe('completed');
      const left = await keysMatching(cluster.client, `*${id}*`);
      expect(left.filter((key) => key.endsWith(':approvals') || key.endsWith(':lockwaits')).sort()).toEqual([
        `volley:task:${id}:approvals`,
        `volley:task:${id}:lockwaits`,
      ]);

      expect((await acme.request('DELETE', `/v1/tasks/${id}`)).status).toBe(200);
      expect(await keysMatching(cluster.client, `*${id}*`)).toEqual([]);
    });

    it('refuses a task still running with 409 task_not_finished, and deletes it once cancelled', async () => {
      const id = await create(acme, napping(5_000));
      const refused = await acme.request('DELETE', `/v1/tasks/${id}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('task_not_finished');
      expect((await acme.get(`/v1/tasks/${id}`)).status).toBe(200);
      await acme.post(`/v1/tasks/${id}/cancel`, {});
      // Cancelled at once; deletable once its fan-in, which the aborted call still holds up, is over.
      const answers: string[] = [];
      await waitFor(async () => {
        const answer = await acme.request('DELETE', `/v1/tasks/${id}`);
        answers.push(answer.status === 200 ? 'deleted' : answer.body.error.code);
        return answer.status === 200;
      });
      expect(new Set(answers.slice(0, -1))).toEqual(new Set(answers.length > 1 ? ['task_not_finished'] : []));
      expect((await acme.get(`/v1/tasks/${id}`)).status).toBe(404);
      expect(await keysMatching(cluster.client, `*${id}*`)).toEqual([]);
    });

    it('answers another tenant’s task as a missing one', async () => {
      const id = await create(acme, plain());
      await acme.waitForTask(id);
      expect((await globex.request('DELETE', `/v1/tasks/${id}`)).body.error.code).toBe('not_found');
      expect((await acme.get(`/v1/tasks/${id}`)).status).toBe(200);
    });
  });
});

const id0 = randomUUID();

describe('DELETE /v1/tasks/:id of a cancelled task whose calls are still queued', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, respond, workerEnv: { VOLLEY_WORKER_CONCURRENCY: '1' } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('waits until they are over, and none of them runs', async () => {
    const api = cluster.api;
    const account = `queued-${randomUUID().slice(0, 8)}`;
    // The one worker slot is busy, so the second task's locking call waits in the queue; a cancel
    // leaves such a call to be picked up (only a worker can take it out of its lines).
    const busy = (await api.post('/v1/tasks', napping(1_500))).body.id as string;
    await waitFor(async () => (await api.get(`/v1/tasks/${busy}`)).body.turns?.[0]?.tool_calls?.[0]?.status === 'running');
    const queued = (await api.post('/v1/tasks', ask([{ id: 'pay', name: 'ledger_append', arguments: { account, amount: 1 } }]))).body.id as string;
    await waitFor(async () => (await api.get(`/v1/tasks/${queued}`)).body.turns?.length === 1);
    expect((await api.post(`/v1/tasks/${queued}/cancel`, {})).body.status).toBe('cancelled');

    const refused = await api.request('DELETE', `/v1/tasks/${queued}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('task_not_finished');

    await api.waitForTask(busy);
    await waitFor(async () => (await api.request('DELETE', `/v1/tasks/${queued}`)).status === 200, { timeoutMs: 10_000 });
    expect(await cluster.client.llen(`volley:ledger:${account}:entries`)).toBe(0);
    expect(await keysMatching(cluster.client, `*${queued}*`)).toEqual([]);
  });
});

describe('GET /v1/tasks when records expire', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, respond, orchestratorEnv: { VOLLEY_TASK_TTL_SECONDS: '1' } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('skips a task whose record has expired, and its index expires too', async () => {
    const api = cluster.api;
    const old = (await api.post('/v1/tasks', plain())).body.id as string;
    await api.waitForTask(old);
    await waitFor(async () => (await api.get(`/v1/tasks/${old}`)).status === 404, { timeoutMs: 5_000 });
    const fresh = (await api.post('/v1/tasks', plain())).body.id as string;
    expect((await api.get<Page>('/v1/tasks')).body.tasks.map((t) => t.id)).toEqual([fresh]);
    // Auth off: the index of tasks without a tenant, kept as long as a record of it may live.
    const ttl = await cluster.client.ttl('volley:tasks:-');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1 + 7 * 24 * 3600);
  });
});
