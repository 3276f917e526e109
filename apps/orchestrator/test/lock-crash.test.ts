import { scriptedTurns } from '@volley/scripted-model';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { firstEntry } from './support/scripted-calls.ts';

// Short leases and stall checks, so recovery is measured in seconds.
const LEASE_MS = 2_000;
const WORKER_ENV = {
  VOLLEY_LOCK_LEASE_MS: String(LEASE_MS),
  VOLLEY_JOB_LOCK_MS: String(LEASE_MS),
  VOLLEY_STALLED_INTERVAL_MS: '1000',
};

describe('a worker killed while it holds a lock', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: WORKER_ENV,
      respond: scriptedTurns([
        {
          content: null,
          tool_calls: [
            { id: 'deposit', name: 'append_and_hold', arguments: { account: 'acct-9', amount: 100, hold_ms: 30_000 } },
            { id: 'fee', name: 'ledger_append', arguments: { account: 'acct-9', amount: -3, memo: 'fee' } },
            { id: 'clock', name: 'nap', arguments: { ms: 10 } },
          ],
        },
        { content: 'done' },
      ]),
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('frees the resource within the lease, retries the call elsewhere and applies its effect once', async () => {
    const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'deposit then fee' }] });
    const holding = await firstEntry<{ worker: string; fencingToken: number }>(redis, 'test:holds:acct-9');
    const victim = cluster.workers.find((worker) => worker.name === holding.worker)!;
    const killedAt = Date.now();
    await victim.kill();

    const task = await cluster.api.waitForTask(body.id, 30_000);
    expect(task.status).toBe('completed');
    const [deposit, fee, clock] = task.turns[0].tool_calls;
    expect(deposit.status).toBe('succeeded');
    expect(deposit.attempts).toBe(2);
    expect(deposit.worker_id).not.toBe(holding.worker);
    // Recovery: the job lock lapses (≤ lease) and the stall check (1 s) hands the call to the survivor.
    const recoveredAfterMs = deposit.started_at - killedAt;
    expect(recoveredAfterMs).toBeLessThan(LEASE_MS + 1_000 + 2_000);
    // The fee waited for the deposit, even across the crash.
    expect(fee.started_at).toBeGreaterThanOrEqual(deposit.finished_at);
    expect(clock.status).toBe('succeeded');

    const holds = (await redis.lrange('test:holds:acct-9', 0, -1)).map((line) => JSON.parse(line));
    expect(holds.map((h) => [h.attempt, h.applied])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(holds[1].fencingToken).toBeGreaterThan(holds[0].fencingToken);
    const entries = (await redis.lrange('volley:ledger:acct-9:entries', 0, -1)).map((line) => JSON.parse(line));
    expect(entries.map((e) => e.amount)).toEqual([100, -3]);
    expect(await redis.get('volley:ledger:acct-9:balance')).toBe('97');
    expect(await redis.hlen('volley:lock:h:ledger:acct-9')).toBe(0);
    process.stdout.write(`lock recovery after SIGKILL: ${recoveredAfterMs} ms\n`);
  });
});

describe('a task with parallel_tool_calls: false', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      respond: scriptedTurns([
        {
          content: null,
          tool_calls: [1, 2, 3].map((n) => ({ id: `nap_${n}`, name: 'nap', arguments: { ms: 80, label: `nap ${n}` } })),
        },
        { content: 'done' },
      ]),
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('tells the model and runs the calls one by one in model order', async () => {
    const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'one at a time' }], parallel_tool_calls: false });
    const task = await cluster.api.waitForTask(body.id);
    expect(task.status).toBe('completed');
    expect(task.execution).toBe('sequential');
    expect(cluster.model.requests[0]!.body.parallel_tool_calls).toBe(false);
    const calls = task.turns[0].tool_calls;
    expect(calls[1].started_at).toBeGreaterThanOrEqual(calls[0].finished_at);
    expect(calls[2].started_at).toBeGreaterThanOrEqual(calls[1].finished_at);
    expect(calls.map((c: any) => typeof c.lock_wait_ms)).toEqual(['number', 'number', 'number']);
  });
});
