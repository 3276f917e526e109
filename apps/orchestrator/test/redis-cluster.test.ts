import { scriptedTurns } from '@volley/scripted-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

describe('on a real 3-master Redis Cluster', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      redisCluster: true,
      workers: 2,
      respond: scriptedTurns([
        {
          content: null,
          tool_calls: [
            { id: 'deposit', name: 'ledger_append', arguments: { account: 'acct-c', amount: 5 } },
            { id: 'withdraw', name: 'ledger_append', arguments: { account: 'acct-c', amount: -2 } },
            { id: 'rest', name: 'nap', arguments: { ms: 200 } },
          ],
        },
        { content: 'balanced' },
      ]),
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs a fan-out turn end to end, its calls in parallel', async () => {
    const started = Date.now();
    const { status, body } = await cluster.api.post('/v1/tool-calls', {
      message: assistant(...[1, 2, 3].map((n) => call(`nap_${n}`, 'nap', { ms: 300 }))),
    });
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(600);
    expect(body.messages.map((m: any) => m.tool_call_id)).toEqual(['nap_1', 'nap_2', 'nap_3']);
  });

  it('runs a whole task, with locks, fencing and the ledger, across the cluster', async () => {
    const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'move money' }] });
    const task = await cluster.api.waitForTask(body.id);
    expect(task.status).toBe('completed');
    const [deposit, withdraw] = task.turns[0].tool_calls;
    expect(withdraw.started_at).toBeGreaterThanOrEqual(deposit.finished_at);
    const results = task.messages.filter((m: any) => m.role === 'tool').map((m: any) => JSON.parse(m.content));
    expect(results[0]).toMatchObject({ amount: 5, balance: 5 });
    expect(results[1]).toMatchObject({ amount: -2, balance: 3 });
    expect(results[1].fencing_token).toBeGreaterThan(results[0].fencing_token);
  });
});
