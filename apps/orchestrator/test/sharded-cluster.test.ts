import { KeySpaces } from '@volley/shared';
import { waitFor } from '@volley/shared/testing';
import { Queue } from 'bullmq';
import { Cluster as RedisCluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { exclusionViolations, orderViolations, type Touch } from './support/overlap.ts';
import { ask, mark, callsFromQuestion as respond, seeded } from './support/scripted-calls.ts';
import { killWorkersAtRandom } from './support/worker-chaos.ts';

const SHARDS = 3;
// What every process derives from VOLLEY_SHARDS=3 and the cluster's default prefix.
const spaces = new KeySpaces('{volley}', SHARDS);
const fast = { VOLLEY_JOB_LOCK_MS: '1500', VOLLEY_STALLED_INTERVAL_MS: '750', VOLLEY_LOCK_LEASE_MS: '1500' };

/** Commands a node has run so far (INFO commandstats, scripts' own commands included). */
async function commandsRun(node: Redis): Promise<number> {
  const info = await node.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}

const touch = (id: string, key: string, mode: 'read' | 'write', ms: number) => ({ id, name: 'touch', arguments: { claims: [{ key, mode }], ms, label: id } });

describe(`on a real 3-master Redis Cluster with VOLLEY_SHARDS=${SHARDS}`, () => {
  let cluster: Cluster;
  let masters: Redis[];
  let client: RedisCluster;

  beforeAll(async () => {
    cluster = await startCluster({
      redisCluster: true,
      shards: SHARDS,
      workers: 3,
      orchestrators: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      // The cancel test needs every holder and every mark of its tasks running at once: two long
      // calls a task, and covering 3 shards takes more than 12 tasks in ~3 % of runs (more than
      // the 24 slots of concurrency 8). Short of slots, a holder waits behind a 10 s mark (seen
      // with concurrency 4); 48 slots cover 23 tasks.
      workerEnv: { ...fast, VOLLEY_WORKER_CONCURRENCY: '16' },
      orchestratorEnv: fast,
      respond,
    });
    const nodes = cluster.redis.clusterNodes!.map((node) => ({ host: node.split(':')[0]!, port: Number(node.split(':')[1]) }));
    masters = nodes.map(({ host, port }) => new Redis(port, host));
    client = new RedisCluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
  }, 120_000);

  afterAll(async () => {
    client?.disconnect();
    for (const master of masters ?? []) master.disconnect();
    await cluster?.stop();
  });

  /** Submits tasks until each shard holds at least `perShard` of them; their ids, by shard. */
  async function tasksInEveryShard(perShard: number, callsOf: (n: number) => unknown[]): Promise<string[]> {
    const ids: string[] = [];
    const counts = () => spaces.shards.map((shard) => ids.filter((id) => spaces.of(id) === shard).length);
    while (counts().some((count) => count < perShard)) {
      if (ids.length >= 20 * perShard * SHARDS) throw new Error(`task ids never covered every shard: ${counts()}`);
      const { body } = await cluster.apis[ids.length % cluster.apis.length]!.post('/v1/tasks', ask(callsOf(ids.length)));
      ids.push(body.id);
    }
    return ids;
  }

  it('puts each shard on a master of its own', async () => {
    const owners = await Promise.all(spaces.shards.map(async (shard) => (await client.cluster('KEYSLOT', `${shard}:x`)) as number));
    const ranges = await client.cluster('SLOTS');
    const ownerOf = (slot: number) => ranges.find(([from, to]) => slot >= from && slot <= to)![2]![1];
    expect(new Set(owners.map(ownerOf)).size).toBe(SHARDS);
  });

  it("spreads 300 tasks' keys and commands over every master", async () => {
    const before = await Promise.all(masters.map(commandsRun));
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch += 1) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, n) =>
          cluster.apis[n % cluster.apis.length]!.post(
            '/v1/tasks',
            ask([
              { id: 'a', name: 'nap', arguments: { ms: 1 } },
              { id: 'b', name: 'nap', arguments: { ms: 1 } },
            ]),
          ),
        ),
      );
      ids.push(...answers.map(({ body }) => body.id as string));
    }
    const tasks = await Promise.all(ids.map((id) => cluster.api.waitForTask(id, 60_000)));
    expect(tasks.every((task) => task.status === 'completed')).toBe(true);
    const after = await Promise.all(masters.map(commandsRun));
    const ran = after.map((count, index) => count - before[index]!);
    const shares = ran.map((count) => count / ran.reduce((sum, each) => sum + each, 0));
    const perShard = spaces.shards.map((shard) => ids.filter((id) => spaces.of(id) === shard).length);
    process.stdout.write(
      `sharded: 300 tasks over ${SHARDS} shards ${JSON.stringify(perShard)}; commands per master ${JSON.stringify(ran)} (${shares.map((s) => `${(s * 100).toFixed(0)}%`).join(', ')})\n`,
    );
    for (const share of shares) {
      expect(share).toBeGreaterThanOrEqual(0.2);
      expect(share).toBeLessThanOrEqual(0.5);
    }
    const keys = await Promise.all(masters.map((master) => master.dbsize()));
    for (const count of keys) expect(count).toBeGreaterThan(0);
  }, 120_000);

  it('keeps a resource to one writer at a time and each message in model order, across tasks of every shard', async () => {
    const key = 'sharded:acct';
    const ids = await tasksInEveryShard(3, (n) => [touch(`m${n}-0`, key, 'write', 20), touch(`m${n}-1`, key, 'read', 10), touch(`m${n}-2`, key, 'write', 20)]);
    const tasks = await Promise.all(ids.map((id) => cluster.api.waitForTask(id, 60_000)));
    const touches: Touch[] = tasks.flatMap((task, message) => {
      expect(task.status, task.id).toBe('completed');
      return task.messages.filter((m: any) => m.role === 'tool').map((m: any, index: number) => ({ message, index, ...JSON.parse(m.content) }) as Touch);
    });
    expect(touches).toHaveLength(ids.length * 3);
    expect(exclusionViolations(touches)).toEqual([]);
    expect(orderViolations(touches)).toEqual([]);
    // One global order: a later writer of the key always holds a higher fencing token.
    const writes = touches.filter((t) => t.claims[0]!.mode === 'write').sort((a, b) => a.enter - b.enter);
    for (let index = 1; index < writes.length; index += 1) expect(writes[index]!.fencingToken).toBeGreaterThan(writes[index - 1]!.fencingToken as number);
    expect(await client.exists(`{volley}:lock:q:${key}`)).toBe(0);
  }, 90_000);

  it('cancels tasks of every shard: running calls are aborted, parked ones leave their lines', async () => {
    const ids = await tasksInEveryShard(1, (n) => [
      // Longer than the wait below may take on a loaded machine: every holder still holds when it ends.
      touch(`holder-${n}`, `sharded:cancel:${n}`, 'write', 25_000),
      touch(`parked-${n}`, `sharded:cancel:${n}`, 'write', 10),
      mark(`sharded-run-${n}`, 10_000),
    ]);
    await waitFor(
      async () => {
        const held = await Promise.all(ids.map((_, n) => client.hlen(`{volley}:lock:h:sharded:cancel:${n}`)));
        const running = await Promise.all(ids.map((_, n) => client.llen(`test:marks:sharded-run-${n}`)));
        return held.every((count) => count === 1) && running.every((count) => count > 0);
      },
      { timeoutMs: 20_000, message: 'not every holder held and every mark ran' },
    );
    const answers = await Promise.all(ids.map((id, n) => cluster.apis[n % cluster.apis.length]!.post(`/v1/tasks/${id}/cancel`, {})));
    expect(answers.map(({ body }) => body.status)).toEqual(ids.map(() => 'cancelled'));
    // The parked calls leave at once; the holders' bodies ignore their signals, so they keep their keys while they run.
    await waitFor(async () => (await Promise.all(ids.map((_, n) => client.zcard(`{volley}:lock:q:sharded:cancel:${n}`)))).every((count) => count === 1), {
      timeoutMs: 3_000,
      message: 'a parked call did not leave its line',
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const n of ids.keys()) expect(await client.llen(`test:done:sharded-run-${n}`)).toBe(0);
    for (const id of ids) expect((await cluster.api.get(`/v1/tasks/${id}`)).body.status).toBe('cancelled');
  }, 60_000);

  it('answers a repeated Idempotency-Key with its first task, whichever shard the key lands in', async () => {
    const keys = Array.from({ length: 9 }, (_, n) => `sharded-key-${n}`);
    const submit = (n: number, key: string) =>
      cluster.apis[n % cluster.apis.length]!.exchange('POST', '/v1/tasks', ask([{ id: 'a', name: 'nap', arguments: { ms: 1 } }]), undefined, {
        'idempotency-key': key,
      });
    const first = await Promise.all(keys.map((key, n) => submit(n, key)));
    const again = await Promise.all(keys.map((key, n) => submit(n + 1, key)));
    expect(again.map(({ body }) => body.id)).toEqual(first.map(({ body }) => body.id));
    expect(again.map(({ headers }) => headers.get('idempotent-replayed'))).toEqual(keys.map(() => 'true'));
    expect(new Set(first.map(({ body }) => spaces.of(body.id))).size).toBeGreaterThan(1);
  });

  it('ends every task with one result per call while workers are killed, and leaves no job in any shard', async () => {
    const random = seeded(7);
    const requests = Array.from({ length: 24 }, (_, t) => [
      ...[0, 1, 2].map((c) => ({ id: `t${t}c${c}`, name: 'nap', arguments: { ms: 500 + Math.floor(random() * 2_000) } })),
      touch(`t${t}lock`, `sharded:chaos:${t % 3}`, 'write', 50),
    ]);
    const ids: string[] = [];
    for (const [t, calls] of requests.entries()) ids.push((await cluster.apis[t % cluster.apis.length]!.post('/v1/tasks', ask(calls))).body.id);
    const kills = await killWorkersAtRandom(cluster, { forMs: 6_000, random, name: 'sharded-chaos' });
    const tasks = await Promise.all(ids.map((id) => cluster.api.waitForTask(id, 60_000)));
    for (const [index, task] of tasks.entries()) {
      expect(task.status, task.id).toBe('completed');
      const expected = requests[index]!.map((call) => call.id);
      expect(task.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id)).toEqual(expected);
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(new Set(ids.map((id) => spaces.of(id))).size).toBe(SHARDS);
    for (const shard of spaces.shards) {
      for (const name of ['tools-default', 'turns']) {
        const queue = new Queue(name, { connection: client, prefix: shard });
        // A cancelled holder of the test before may still wind down in its pool; the turn queues hold nothing.
        const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'waiting-children', 'completed');
        expect(counts, `${shard} ${name}`).toEqual({ waiting: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, completed: 0 });
      }
    }
    for (const key of [0, 1, 2].map((n) => `sharded:chaos:${n}`)) expect(await client.exists(`{volley}:lock:q:${key}`)).toBe(0);
    process.stdout.write(`sharded chaos: ${kills} workers killed while 24 tasks ran over ${SHARDS} shards\n`);
  }, 120_000);
});
