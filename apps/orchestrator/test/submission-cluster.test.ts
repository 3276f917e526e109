import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

/**
 * The multi-key scripts and MULTIs of submission (idempotency claims checked against a task
 * record, the listing index beside the records, a delete of every key of a task) keep to one
 * hash slot: on a Redis Cluster they work as on one Redis.
 */
describe('idempotent submission, listing and deletion on a real 3-master Redis Cluster', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ redisCluster: true, workers: 1 });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('makes one task of concurrent retries, lists it, and deletes it', async () => {
    const api = cluster.api;
    const key = randomUUID();
    const tag = randomUUID();
    const body = { messages: [{ role: 'user', content: 'on a cluster' }], metadata: { tag } };
    const answers = await Promise.all([0, 1, 2].map(() => api.exchange('POST', '/v1/tasks', body, undefined, { 'idempotency-key': key })));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const id = answers[0]!.body.id as string;
    await api.waitForTask(id);
    expect((await api.get(`/v1/tasks?metadata.tag=${tag}`)).body.tasks.map((t: { id: string }) => t.id)).toEqual([id]);
    expect(await api.request('DELETE', `/v1/tasks/${id}`)).toEqual({ status: 200, body: { id, deleted: true } });
    expect((await api.get(`/v1/tasks/${id}`)).status).toBe(404);
    expect((await api.get(`/v1/tasks?metadata.tag=${tag}`)).body.tasks).toEqual([]);
  });

  it('fans out once for duplicate tool calls', async () => {
    const key = randomUUID();
    const body = { message: assistant(call('a', 'nap', { ms: 200 })) };
    const answers = await Promise.all([0, 1].map(() => cluster.api.exchange('POST', '/v1/tool-calls', body, undefined, { 'idempotency-key': key })));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers[1]!.body).toEqual(answers[0]!.body);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(1);
  });
});
