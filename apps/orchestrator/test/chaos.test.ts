import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { ask, callsFromQuestion as respond, seeded } from './support/scripted-calls.ts';
import { killWorkersAtRandom } from './support/worker-chaos.ts';

const TASKS = 24;
const CHAOS_MS = 8_000;

describe('chaos: workers killed and restarted at random while tasks run', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    const fast = { VOLLEY_JOB_LOCK_MS: '1500', VOLLEY_STALLED_INTERVAL_MS: '750', VOLLEY_LOCK_LEASE_MS: '1500' };
    cluster = await startCluster({
      workers: 3,
      orchestrators: 1,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: fast,
      orchestratorEnv: fast,
      respond,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('completes every task with exactly one result per call, and leaves no job behind', async () => {
    const random = seeded(42);
    const requests = Array.from({ length: TASKS }, (_, t) => {
      const calls = [0, 1, 2].map((c) => ({ id: `t${t}c${c}`, name: 'mark', arguments: { label: `chaos-${t}-${c}`, ms: 500 + Math.floor(random() * 2_500) } }));
      calls.push({
        id: `t${t}lock`,
        name: 'touch',
        arguments: { claims: [{ key: `chaos:${t % 3}`, mode: 'write' }], ms: 50, label: `t${t}lock` },
      } as never);
      return calls;
    });
    const ids: string[] = [];
    for (const calls of requests) {
      const { body } = await cluster.api.post('/v1/tasks', ask(calls));
      ids.push(body.id);
    }

    const kills = await killWorkersAtRandom(cluster, { forMs: CHAOS_MS, random, name: 'chaos-worker' });

    const tasks = await Promise.all(ids.map((id) => cluster.api.waitForTask(id, 60_000)));
    for (const [index, task] of tasks.entries()) {
      expect(task.status, task.id).toBe('completed');
      const expected = requests[index]!.map((call) => call.id);
      const toolMessages = task.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id);
      expect(toolMessages).toEqual(expected);
      expect(task.turns[0].tool_calls.map((c: any) => c.id)).toEqual(expected);
    }
    expect(kills).toBeGreaterThanOrEqual(4);
    // The kills hit calls in flight: some calls only finished on a later attempt.
    const retried = tasks.flatMap((task) => task.turns[0].tool_calls).filter((call: any) => call.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);

    // Jobs are removed once gathered; nothing waits, runs or sleeps any more.
    for (const name of ['tools-default', 'turns']) {
      const queue = new Queue(name, { connection: redis, prefix: 'volley' });
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed');
      expect(counts, name).toEqual({ waiting: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, completed: 0 });
    }
    for (const key of ['chaos:0', 'chaos:1', 'chaos:2']) expect(await redis.zcard(`volley:lock:q:${key}`)).toBe(0);
    process.stdout.write(`chaos: ${kills} workers killed while ${TASKS} tasks ran; ${retried.length} calls retried\n`);
  });
});
