import { randomBytes, randomUUID } from 'node:crypto';
import type { Responder } from '@volley/scripted-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';
import { assistant, ask, call, callsFromQuestion } from './support/scripted-calls.ts';
import { bodyFingerprint, idempotencyRecordKey } from '../src/idempotency/idempotency-key.ts';
import { STALE_CLAIM_MS } from '../src/idempotency/submit-task-once.ts';
import { keysMatching } from './support/volley-keys.ts';

const newKey = () => `vk_${randomBytes(24).toString('hex')}`;
const KEYS = { acme: newKey(), globex: newKey() };

/** A question spelling out its calls gets them (then an answer); anything else a plain answer. */
const respond: Responder = (request) => {
  const question = String(request.messages.findLast((m) => m.role === 'user')?.content ?? '');
  return question.includes('calls:') ? callsFromQuestion(request) : { content: 'done' };
};

/** A task whose one call appends to a ledger account: its effect shows how often it ran. */
const appendTask = (account: string, extra: Record<string, unknown> = {}) => ({
  ...ask([{ id: 'pay', name: 'ledger_append', arguments: { account, amount: 5, memo: account } }]),
  ...extra,
});

describe('Idempotency-Key on submissions', () => {
  let cluster: Cluster;
  let acme: Api[];
  let globex: Api;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 1,
      orchestrators: 2,
      respond,
      orchestratorEnv: { VOLLEY_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex` },
    });
    acme = cluster.apis.map((api) => api.withHeaders({ authorization: `Bearer ${KEYS.acme}` }));
    globex = cluster.apis[0]!.withHeaders({ authorization: `Bearer ${KEYS.globex}` });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const ledgerEntries = async (tenant: string, account: string) =>
    (await cluster.client.lrange(`volley:ledger:@${tenant}/${account}:entries`, 0, -1)).map((line) => JSON.parse(line));

  const submit = (api: Api, body: unknown, key: string) => api.exchange('POST', '/v1/tasks', body, undefined, { 'idempotency-key': key });

  describe('POST /v1/tasks', () => {
    it('answers retries with the same task and runs its side effect once', async () => {
      const key = randomUUID();
      const account = `seq-${randomUUID().slice(0, 8)}`;
      const first = await submit(acme[0]!, appendTask(account), key);
      expect(first.status, JSON.stringify(first.body)).toBe(202);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      for (const api of [acme[0]!, acme[1]!, acme[0]!]) {
        const retry = await submit(api, appendTask(account), key);
        expect(retry.status).toBe(202);
        expect(retry.body.id).toBe(first.body.id);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
      }
      const finished = await acme[0]!.waitForTask(first.body.id);
      expect(finished.status).toBe('completed');
      const late = await submit(acme[1]!, appendTask(account), key);
      expect(late.body).toEqual({ id: first.body.id, status: 'completed' });
      expect(late.headers.get('idempotent-replayed')).toBe('true');
      expect(await ledgerEntries('acme', account)).toHaveLength(1);
    });

    it('makes one task of five concurrent retries on two orchestrators', async () => {
      const key = randomUUID();
      const account = `conc-${randomUUID().slice(0, 8)}`;
      const tag = randomUUID();
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => submit(acme[i % 2]!, appendTask(account, { metadata: { tag } }), key)));
      expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
      await acme[0]!.waitForTask(answers[0]!.body.id);
      const listed = await acme[0]!.get(`/v1/tasks?metadata.tag=${tag}`);
      expect(listed.body.tasks.map((t: { id: string }) => t.id)).toEqual([answers[0]!.body.id]);
      expect(await ledgerEntries('acme', account)).toHaveLength(1);
    });

    it('matches the body by its content, not its key order or spacing', async () => {
      const key = randomUUID();
      const first = await acme[0]!.exchange(
        'POST',
        '/v1/tasks',
        undefined,
        { body: '{"model":"scripted","messages":[{"role":"user","content":"hi"}]}', contentType: 'application/json' },
        { 'idempotency-key': key },
      );
      const again = await acme[1]!.exchange(
        'POST',
        '/v1/tasks',
        undefined,
        { body: '{ "messages": [{"content": "hi", "role": "user"}], "model": "scripted" }', contentType: 'application/json' },
        { 'IDEMPOTENCY-KEY': key },
      );
      expect(first.status).toBe(202);
      expect(again.body.id).toBe(first.body.id);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    });

    it('refuses the same key with another body: 422 idempotency_key_reused', async () => {
      const key = randomUUID();
      const first = await submit(acme[0]!, { messages: [{ role: 'user', content: 'one' }] }, key);
      expect(first.status).toBe(202);
      const other = await submit(acme[1]!, { messages: [{ role: 'user', content: 'two' }] }, key);
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('idempotency_key_reused');
    });

    it('frees a key whose request was refused, so a corrected one goes through', async () => {
      const key = randomUUID();
      const refused = await submit(acme[0]!, { messages: [{ role: 'user', content: 'x' }], tools: ['no_such_tool'] }, key);
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('unknown_tool');
      const corrected = await submit(acme[0]!, { messages: [{ role: 'user', content: 'x' }] }, key);
      expect(corrected.status).toBe(202);
      expect(corrected.headers.get('idempotent-replayed')).toBeNull();
    });

    it('keeps tenants apart: another tenant’s same key makes its own task', async () => {
      const key = randomUUID();
      const body = { messages: [{ role: 'user', content: 'same for both' }] };
      const mine = await submit(acme[0]!, body, key);
      const theirs = await submit(globex, body, key);
      expect(theirs.status).toBe(202);
      expect(theirs.body.id).not.toBe(mine.body.id);
      expect(theirs.headers.get('idempotent-replayed')).toBeNull();
      expect((await globex.get(`/v1/tasks/${mine.body.id}`)).status).toBe(404);
    });

    it('makes a new task for a key whose task was deleted', async () => {
      const key = randomUUID();
      const body = { messages: [{ role: 'user', content: 'deleted later' }] };
      const first = await submit(acme[0]!, body, key);
      await acme[0]!.waitForTask(first.body.id);
      expect((await acme[0]!.request('DELETE', `/v1/tasks/${first.body.id}`)).status).toBe(200);
      const again = await submit(acme[1]!, body, key);
      expect(again.status).toBe(202);
      expect(again.body.id).not.toBe(first.body.id);
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      expect((await submit(acme[0]!, body, key)).body.id).toBe(again.body.id);
    });

    it('takes over a stale claim whose task was never written (its request died after claiming)', async () => {
      const key = randomUUID();
      const body = { messages: [{ role: 'user', content: 'orphaned claim' }] };
      const claim = { fingerprint: bodyFingerprint(body), task_id: randomUUID(), claimed_at: Date.now() - STALE_CLAIM_MS - 1 };
      await cluster.client.set(idempotencyRecordKey('volley', 'tasks', 'acme', key), JSON.stringify(claim), 'EX', 60);
      const answers = await Promise.all([0, 1, 2].map((i) => submit(acme[i % 2]!, body, key)));
      expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers[0]!.body.id).not.toBe(claim.task_id);
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    });

    it('waits for a fresh claim whose task is still being written, then answers that task', async () => {
      const key = randomUUID();
      const body = { messages: [{ role: 'user', content: 'slow writer' }] };
      const claim = { fingerprint: bodyFingerprint(body), task_id: randomUUID(), claimed_at: Date.now() };
      await cluster.client.set(idempotencyRecordKey('volley', 'tasks', 'acme', key), JSON.stringify(claim), 'EX', 60);
      const started = Date.now();
      const answer = submit(acme[0]!, body, key);
      // The first request, slow to write its task: it lands 400 ms after the claim.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const header = { id: claim.task_id, tenant: 'acme', status: 'queued' };
      await cluster.client.hset(
        `volley:task:${claim.task_id}`,
        Object.fromEntries(Object.entries(header).map(([field, value]) => [field, JSON.stringify(value)])),
      );
      const replayed = await answer;
      expect(replayed.status).toBe(202);
      expect(replayed.body).toEqual({ id: claim.task_id, status: 'queued' });
      expect(replayed.headers.get('idempotent-replayed')).toBe('true');
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      await cluster.client.del(`volley:task:${claim.task_id}`);
    });

    it.each([
      ['256 characters', 'k'.repeat(256)],
      ['a space', 'two words'],
      ['a non-ASCII character', 'clé'],
    ])('refuses a key of %s with 400 invalid_idempotency_key, creating nothing', async (_what, key) => {
      const tag = randomUUID();
      const answer = await acme[0]!.exchange('POST', '/v1/tasks', { messages: [{ role: 'user', content: 'x' }], metadata: { tag } }, undefined, {
        'idempotency-key': key,
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid_idempotency_key');
      expect((await acme[0]!.get(`/v1/tasks?metadata.tag=${tag}`)).body.tasks).toEqual([]);
    });

    it('accepts a key of 255 characters', async () => {
      const answer = await submit(acme[0]!, { messages: [{ role: 'user', content: 'x' }] }, `${randomUUID()}${'k'.repeat(219)}`);
      expect(answer.status).toBe(202);
    });
  });

  describe('POST /v1/tool-calls', () => {
    const fanOut = (account: string) => ({
      message: assistant(call('pay', 'ledger_append', { account, amount: 3 }), call('wait', 'nap', { ms: 300 })),
    });
    const run = (api: Api, body: unknown, key: string) => api.exchange('POST', '/v1/tool-calls', body, undefined, { 'idempotency-key': key });

    it('fans out once for concurrent duplicates, which all get the first answer', async () => {
      const key = randomUUID();
      const account = `tc-${randomUUID().slice(0, 8)}`;
      const answers = await Promise.all([0, 1, 2, 3].map((i) => run(acme[i % 2]!, fanOut(account), key)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      for (const answer of answers) expect(answer.body).toEqual(answers[0]!.body);
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(3);
      expect(answers[0]!.body.calls.map((c: { status: string }) => c.status)).toEqual(['succeeded', 'succeeded']);
      expect(await ledgerEntries('acme', account)).toHaveLength(1);

      const later = await run(acme[1]!, fanOut(account), key);
      expect(later.body).toEqual(answers[0]!.body);
      expect(later.headers.get('idempotent-replayed')).toBe('true');
      expect(await ledgerEntries('acme', account)).toHaveLength(1);
    });

    it('refuses the same key with another body, even while the first runs', async () => {
      const key = randomUUID();
      const account = `tc-${randomUUID().slice(0, 8)}`;
      const first = run(acme[0]!, fanOut(account), key);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const other = await run(acme[1]!, { message: assistant(call('wait', 'nap', { ms: 1 })) }, key);
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('idempotency_key_reused');
      expect((await first).status).toBe(200);
    });

    it('answers 409 idempotency_key_in_use when the first request recorded no answer by its deadline, and runs nothing', async () => {
      const key = randomUUID();
      const account = `tc-${randomUUID().slice(0, 8)}`;
      const body = fanOut(account);
      const record = { state: 'running', fingerprint: bodyFingerprint(body), claimed_at: Date.now() - 70_000, timeout_ms: 60_000 };
      await cluster.client.set(idempotencyRecordKey('volley', 'tool-calls', 'acme', key), JSON.stringify(record), 'EX', 60);
      const answer = await run(acme[0]!, body, key);
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('idempotency_key_in_use');
      expect(await ledgerEntries('acme', account)).toHaveLength(0);
    });

    it('frees a key whose request was refused before fanning out', async () => {
      const key = randomUUID();
      const refused = await run(acme[0]!, { message: assistant(call('a', 'nap', { ms: 1 }), call('a', 'nap', { ms: 1 })) }, key);
      expect(refused.body.error.code).toBe('duplicate_tool_call_id');
      const corrected = await run(acme[0]!, { message: assistant(call('a', 'nap', { ms: 1 })) }, key);
      expect(corrected.status).toBe(200);
      expect(corrected.headers.get('idempotent-replayed')).toBeNull();
    });

    it('keeps tenants apart', async () => {
      const key = randomUUID();
      const body = { message: assistant(call('n', 'nap', { ms: 1 })) };
      const mine = await run(acme[0]!, body, key);
      const theirs = await run(globex, body, key);
      expect(theirs.status).toBe(200);
      expect(theirs.headers.get('idempotent-replayed')).toBeNull();
      expect(mine.headers.get('idempotent-replayed')).toBeNull();
    });

    it('refuses a key that is too long', async () => {
      const answer = await run(acme[0]!, { message: assistant(call('n', 'nap', { ms: 1 })) }, 'k'.repeat(256));
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid_idempotency_key');
    });
  });

  it('keeps every idempotency record and task index under a TTL', async () => {
    const keys = [...(await keysMatching(cluster.client, 'idem:*')), ...(await keysMatching(cluster.client, 'tasks:*'))];
    expect(keys.some((key) => key.startsWith('volley:idem:tasks:acme:'))).toBe(true);
    expect(keys.some((key) => key.startsWith('volley:idem:tool-calls:acme:'))).toBe(true);
    expect(keys).toContain('volley:tasks:acme');
    const ttls = await Promise.all(keys.map((key) => cluster.client.ttl(key)));
    expect(ttls.filter((ttl) => ttl <= 0)).toEqual([]);
    const idemTtls = ttls.filter((_, i) => keys[i]!.startsWith('volley:idem:'));
    expect(Math.max(...idemTtls)).toBeLessThanOrEqual(24 * 3600);
  });
});
