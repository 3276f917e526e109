import { waitFor } from '@volley/shared/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { ask, assistant, call, callsFromQuestion as respond, firstEntry, mark } from './support/scripted-calls.ts';
import { families, isSingleton, keysMatching, keysWithoutTtl, SINGLETONS, TOOL_DATA } from './support/volley-keys.ts';

/**
 * Volley's bookkeeping is bounded by the work still live: once fan-outs of every kind have
 * ended, each key they made is gone or expires, and what is left without a TTL is a fixed set of
 * per-deployment and per-queue singletons. Counted after a batch, then after a batch twice as
 * big: the set must not have grown. (The ledger's keys are left out: they are the built-in
 * example tool's own store, not Volley's bookkeeping — see TOOL_DATA. The fixtures' `test:*`
 * keys are outside Volley's prefix.)
 */

const K = 4;
/** Parallel, sequential and locking tasks; cancelled and timed-out tasks; timed-out, sequential, and sequential timed-out bare fan-outs. */
const KINDS = 8;
const QUEUES = ['tools-default', 'turns'];
const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

const touch = (id: string, claims: Array<{ key: string; mode: 'read' | 'write' }>, ms: number) => ({ id, name: 'touch', arguments: { label: id, claims, ms } });
const write = (key: string) => ({ key, mode: 'write' as const });
const read = (key: string) => ({ key, mode: 'read' as const });
const nap = (id: string, ms: number) => ({ id, name: 'nap', arguments: { ms, label: id } });

describe('bookkeeping after many fan-outs of every kind', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: { VOLLEY_LOCK_PARK_MS: '500' },
      respond,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Waits until nothing waits, runs or sleeps in any queue and every lock line is empty; else says what is left. */
  async function drained(): Promise<void> {
    const queues = QUEUES.map((name) => new Queue(name, { connection: redis, prefix: 'volley' }));
    const left = async () => {
      const counts = await Promise.all(queues.map((queue) => queue.getJobCounts(...STATES)));
      const jobs = counts.flatMap((c, i) => STATES.filter((state) => c[state]! > 0).map((state) => `${QUEUES[i]} ${state} ${c[state]}`));
      const lines = await keysMatching(redis, 'lock:[qhm]:*');
      return [...jobs, ...lines];
    };
    try {
      await waitFor(async () => (await left()).length === 0, { timeoutMs: 20_000, intervalMs: 100 }).catch(() => undefined);
      const remaining = await left();
      const details = await Promise.all(
        queues.map(async (queue) =>
          (await queue.getJobs(['waiting', 'active', 'delayed', 'waiting-children'])).map((job) => `${queue.name}/${job.id} ${job.name}`),
        ),
      );
      expect(remaining, `left after the batch: ${details.flat().join(', ')}`).toEqual([]);
    } finally {
      await Promise.all(queues.map((queue) => queue.close()));
    }
  }

  /**
   * `count` fan-outs of each kind, run to their end. Most resource keys are named per fan-out
   * (as `record:<id>` would be), beside a few shared ones: per-resource bookkeeping shows up.
   */
  async function batch(tag: string, count: number): Promise<void> {
    const api = cluster.api;
    const each = <T>(make: (i: number) => Promise<T>) => Promise.all(Array.from({ length: count }, (_, i) => make(i)));
    // Soft: a kind the engine refuses is reported, and the count goes on with the others.
    const task = async (body: unknown): Promise<string | undefined> => {
      const { status, body: answer } = await api.post('/v1/tasks', body);
      expect.soft(status, JSON.stringify(answer)).toBe(202);
      return status === 202 ? (answer.id as string) : undefined;
    };
    const toolCalls = async (body: unknown): Promise<{ calls: any[] }> => {
      const { status, body: answer } = await api.post('/v1/tool-calls', body);
      expect.soft(status, JSON.stringify(answer)).toBe(200);
      return status === 200 ? answer : { calls: [] };
    };
    const kinds = await Promise.all([
      // Parallel tasks, with locking calls on a shared key and on a key of their own.
      each((i) =>
        task(
          ask([
            nap(`${tag}p${i}a`, 30),
            nap(`${tag}p${i}b`, 30),
            touch(`${tag}p${i}c`, [write('book:shared')], 10),
            touch(`${tag}p${i}d`, [write(`book:${tag}:p${i}`)], 10),
          ]),
        ),
      ),
      // Sequential tasks.
      each((i) =>
        task({ ...ask([nap(`${tag}s${i}a`, 10), nap(`${tag}s${i}b`, 10), touch(`${tag}s${i}c`, [write(`book:${tag}:s${i}`)], 10)]), execution: 'sequential' }),
      ),
      // Locking tasks: readers and writers, calls holding two keys, a call parked behind another.
      each((i) =>
        task(
          ask([
            touch(`${tag}l${i}a`, [write(`book:${tag}:l${i}`), read('book:shared-r')], 20),
            touch(`${tag}l${i}b`, [write(`book:${tag}:l${i}`)], 10),
            touch(`${tag}l${i}c`, [read('book:shared-r'), read(`book:${tag}:l${i}:r`)], 10),
          ]),
        ),
      ),
    ]);
    const [parallel, sequential, locking] = kinds;

    // Cancelled while running: one call runs, one holds a key, one is parked behind it.
    const cancelled = await each(async (i) => {
      const id = await task(
        ask([mark(`${tag}c${i}a`, 5_000), touch(`${tag}c${i}b`, [write(`book:${tag}:c${i}`)], 5_000), touch(`${tag}c${i}c`, [write(`book:${tag}:c${i}`)], 10)]),
      );
      if (!id) return undefined;
      await firstEntry(redis, `test:marks:${tag}c${i}a`);
      const { status, body } = await api.post(`/v1/tasks/${id}/cancel`, {});
      expect(status).toBe(200);
      expect(body.status).toBe('cancelled');
      return id;
    });
    // Timed out: a task past its timeout_ms, and bare fan-outs past theirs (one call running, one
    // holding a key past the deadline, one waiting for that key), parallel and sequential.
    const timedOut = await each((i) =>
      task({ ...ask([nap(`${tag}t${i}a`, 3_000), touch(`${tag}t${i}b`, [write(`book:${tag}:t${i}`)], 3_000)]), timeout_ms: 300 }),
    );
    const bare = await Promise.all([
      each((i) =>
        toolCalls({
          timeout_ms: 300,
          message: assistant(
            call(`${tag}x${i}a`, 'nap', { ms: 3_000 }),
            call(`${tag}x${i}b`, 'touch', { label: `${tag}x${i}b`, claims: [write(`book:${tag}:x${i}`)], ms: 1_000 }),
            call(`${tag}x${i}c`, 'touch', { label: `${tag}x${i}c`, claims: [write(`book:${tag}:x${i}`)], ms: 10 }),
          ),
        }),
      ),
      each((i) =>
        toolCalls({
          execution: 'sequential',
          message: assistant(
            call(`${tag}q${i}a`, 'nap', { ms: 10 }),
            call(`${tag}q${i}b`, 'nap', { ms: 10 }),
            call(`${tag}q${i}c`, 'touch', { label: `${tag}q${i}c`, claims: [write(`book:${tag}:q${i}`)], ms: 10 }),
          ),
        }),
      ),
      each((i) =>
        toolCalls({
          execution: 'sequential',
          timeout_ms: 300,
          message: assistant(
            call(`${tag}y${i}a`, 'nap', { ms: 1_000 }),
            call(`${tag}y${i}b`, 'touch', { label: `${tag}y${i}b`, claims: [write(`book:${tag}:y${i}`)], ms: 10 }),
          ),
        }),
      ),
    ]);

    // Each kind really ran as that kind.
    const ended = async (ids: Array<string | undefined>) => Promise.all(ids.flatMap((id) => (id ? [api.waitForTask(id, 30_000)] : [])));
    for (const record of await ended([...parallel, ...sequential, ...locking])) expect.soft(record.status, record.id).toBe('completed');
    for (const record of await ended(cancelled)) expect.soft(record.status, record.id).toBe('cancelled');
    for (const record of await ended(timedOut)) expect.soft([record.status, record.error?.code], record.id).toEqual(['failed', 'task_timeout']);
    const [timedOutBare, sequentialBare, sequentialTimedOut] = bare;
    // Which call of a timed-out fan-out was still waiting for its locks at the deadline depends
    // on how fast the machine is; that none finished, and the parked one never ran, does not.
    const codes = (answer: { calls: any[] }) => answer.calls.map((c: any) => c.error?.code ?? c.status);
    const timeout = expect.stringMatching(/^(tool_timeout|lock_timeout)$/);
    for (const answer of timedOutBare.filter((a) => a.calls.length > 0)) expect.soft(codes(answer)).toEqual(['tool_timeout', timeout, 'lock_timeout']);
    for (const answer of sequentialBare.filter((a) => a.calls.length > 0)) expect.soft(codes(answer)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const answer of sequentialTimedOut.filter((a) => a.calls.length > 0)) expect.soft(codes(answer)).toEqual([timeout, 'lock_timeout']);
    await drained();
  }

  const bookkeeping = async () => (await keysWithoutTtl(redis)).filter((key) => !TOOL_DATA.test(key));

  it('leaves the same fixed set of TTL-less keys after K and after 2K more fan-outs of each kind: singletons only', async () => {
    await batch('a', K);
    const afterK = await bookkeeping();
    await batch('b', 2 * K);
    const after3K = await bookkeeping();

    const grew = after3K.filter((key) => !afterK.includes(key));
    const report = (keys: string[]) => families(keys).map((f) => `volley:${f.family} ×${f.count} (e.g. volley:${f.example})`);
    process.stdout.write(
      `bookkeeping: ${afterK.length} TTL-less keys after ${KINDS * K} fan-outs (${KINDS} kinds × ${K}), ${after3K.length} after ${2 * KINDS * K} more:\n` +
        `  ${after3K
          .slice(0, 40)
          .map((key) => `volley:${key}${isSingleton(key) ? '' : '   <- not a singleton'}`)
          .join('\n  ')}\n` +
        (after3K.length > 40 ? `  … and ${after3K.length - 40} more; by family: ${report(after3K).join('; ')}\n` : '') +
        (grew.length > 0 ? `  grew by: ${report(grew).join('; ')}\n` : ''),
    );
    // Not one more key, and every one a singleton of the deployment or of a queue.
    expect.soft(report(grew), 'TTL-less families that grew with the work').toEqual([]);
    expect
      .soft(report(after3K.filter((key) => !isSingleton(key))), `TTL-less keys beyond the singletons (${SINGLETONS.map((s) => s.pattern.source).join(' ')})`)
      .toEqual([]);
    expect(after3K.length).toBe(afterK.length);
  }, 120_000);
});
