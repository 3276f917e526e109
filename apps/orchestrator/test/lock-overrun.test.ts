import { fileURLToPath } from 'node:url';
import { waitFor } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, TEST_TOOLS, type Api, type Cluster } from './support/cluster.ts';
import { ask, assistant, call, callsFromQuestion } from './support/scripted-calls.ts';
import { workerTotal } from './support/worker-metrics.ts';

const LOCK_TOOLS = fileURLToPath(new URL('./fixtures/lock-tools.ts', import.meta.url));
/** The `stubborn` fixture's timeout: its call answers then, its body runs on. */
const STUBBORN_TIMEOUT_MS = 300;
const ABANDON_AFTER_MS = 1_500;
const LOCK_WAIT_TIMEOUT_MS = 2_500;
const LEASE_MS = 1_000;

type Claim = { key: string; mode: 'read' | 'write' };
const w = (key: string): Claim => ({ key, mode: 'write' });
const r = (key: string): Claim => ({ key, mode: 'read' });
const hold = (id: string, claims: Claim[], ms: number) => call(id, 'hold', { claims, ms, label: id });
const stubborn = (id: string, args: { account: string; body_ms: number; amount?: number }, name = 'stubborn') => call(id, name, { ...args, label: id });

/** What a `stubborn` body reports when it ends; what a `hold` call answers. */
type Body = { label: string; enter: number; exit: number; fencingToken: number; write: string; worker: string };
type Held = { label: string; enter: number; exit: number; fencingToken: number | Record<string, number> | null; worker: string };

async function fanOut(api: Api, toolCalls: unknown[], extra: Record<string, unknown> = {}) {
  const { status, body } = await api.post('/v1/tool-calls', { message: assistant(...toolCalls), ...extra });
  expect(status, JSON.stringify(body)).toBe(200);
  return body as { messages: Array<{ tool_call_id: string; content: string }>; calls: any[] };
}

const held = (body: { messages: Array<{ content: string }> }, index = 0): Held => JSON.parse(body.messages[index]!.content);

function bodyOf(redis: Redis, account: string, timeoutMs = 10_000): Promise<Body> {
  return waitFor(
    async () => {
      const line = await redis.lindex(`test:bodies:${account}`, 0);
      return line ? (JSON.parse(line) as Body) : undefined;
    },
    { timeoutMs, message: `no body of ${account} ended` },
  );
}

describe('locks held by a tool body that outlives its answer', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, LOCK_TOOLS],
      respond: callsFromQuestion,
      workerEnv: {
        VOLLEY_ABANDON_AFTER_MS: String(ABANDON_AFTER_MS),
        VOLLEY_LOCK_WAIT_TIMEOUT_MS: String(LOCK_WAIT_TIMEOUT_MS),
        VOLLEY_LOCK_LEASE_MS: String(LEASE_MS),
      },
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('answers a timed-out call on time but keeps its resource until its body ends', async () => {
    const answered = await fanOut(cluster.api, [stubborn('old', { account: 'body-1', body_ms: 1_000 })]);
    const [old] = answered.calls;
    expect(old.error?.code).toBe('tool_timeout');
    expect(old.finished_at - old.started_at).toBeLessThan(STUBBORN_TIMEOUT_MS + 500);
    // The call is over (its job completed and was gathered); its body is not, and holds on.
    const after = await fanOut(cluster.api, [hold('next', [w('ledger:body-1')], 50)]);
    const oldBody = await bodyOf(redis, 'body-1');
    const next = held(after);
    // Before: the next writer entered at the old call's answer, while the old body still wrote.
    expect(next.enter).toBeGreaterThanOrEqual(oldBody.exit - 0.5);
    expect(next.fencingToken).toBeGreaterThan(oldBody.fencingToken);
    process.stdout.write(
      `body past its answer: answered ${old.finished_at - old.started_at} ms after start, body ended ${Math.round(oldBody.exit - old.finished_at)} ms after the answer, next holder entered ${(next.enter - oldBody.exit).toFixed(1)} ms after the body ended\n`,
    );
  });

  it('abandons a body still running VOLLEY_ABANDON_AFTER_MS past its answer: counted, and fenced out by the next holder', async () => {
    const abandonedBefore = await workerTotal(cluster, 'volley_tool_bodies_abandoned_total', { tool: 'stubborn' });
    const body = await fanOut(cluster.api, [
      stubborn('late', { account: 'body-2', body_ms: 4_000, amount: 5 }),
      call('fee', 'ledger_append', { account: 'body-2', amount: 7, memo: 'fee' }),
    ]);
    const [late, fee] = body.calls;
    expect(late.error?.code).toBe('tool_timeout');
    expect(fee.status).toBe('succeeded');
    const feeEntry = JSON.parse(body.messages[1]!.content);
    // The lock went at the bound past the answer, not before.
    const heldFor = fee.started_at - late.finished_at;
    expect(heldFor).toBeGreaterThanOrEqual(ABANDON_AFTER_MS - 100);
    expect(heldFor).toBeLessThan(ABANDON_AFTER_MS + 1_500);

    const lateBody = await bodyOf(redis, 'body-2');
    // The body ran on past the bound; its write came after the next holder's and was refused.
    expect(lateBody.exit).toBeGreaterThan(fee.finished_at);
    expect(feeEntry.fencing_token).toBeGreaterThan(lateBody.fencingToken);
    expect(lateBody.write).toBe('stale_fencing_token');
    const entries = (await redis.lrange('volley:ledger:body-2:entries', 0, -1)).map((line) => JSON.parse(line));
    expect(entries.map((entry) => entry.amount)).toEqual([7]);
    expect(await redis.get('volley:ledger:body-2:balance')).toBe('7');

    expect(await workerTotal(cluster, 'volley_tool_bodies_abandoned_total', { tool: 'stubborn' })).toBe(abandonedBefore + 1);
    const runner = cluster.workers.find((worker) => worker.name === lateBody.worker)!;
    const line = await runner.waitForLine((entry) => String(entry.msg).startsWith('tool body abandoned') && entry.toolCallId === 'late');
    expect(line).toMatchObject({ level: 40, tool: 'stubborn', fencingToken: lateBody.fencingToken });
    process.stdout.write(`abandoned body: lock held ${heldFor} ms past the answer (bound ${ABANDON_AFTER_MS} ms)\n`);
  });

  it('keeps the resource of a cancelled call whose body runs on until the body ends', async () => {
    const { body: task } = await cluster.api.post(
      '/v1/tasks',
      ask([{ id: 'cancelled', name: 'stubborn_long', arguments: { account: 'body-3', body_ms: 1_500, label: 'cancelled' } }]),
    );
    await waitFor(async () => (await redis.llen('test:entered:body-3')) > 0);
    await cluster.api.post(`/v1/tasks/${task.id}/cancel`, {});
    const after = await fanOut(cluster.api, [hold('after-cancel', [w('ledger:body-3')], 10)]);
    const cancelledBody = await bodyOf(redis, 'body-3');
    expect(held(after).enter).toBeGreaterThanOrEqual(cancelledBody.exit - 0.5);
    const record = (await cluster.api.get(`/v1/tasks/${task.id}`)).body;
    expect(record.status).toBe('cancelled');
  });

  it('ends a wait for locks at VOLLEY_LOCK_WAIT_TIMEOUT_MS with lock_timeout, not at the next park alarm', async () => {
    const holding = fanOut(cluster.api, [hold('long', [w('wait:1')], 5_000)]);
    await waitFor(async () => (await redis.hlen('volley:lock:h:wait:1')) === 1);
    const sentAt = Date.now();
    const body = await fanOut(cluster.api, [hold('waiter', [w('wait:1')], 10)]);
    const answeredAfter = Date.now() - sentAt;
    expect(body.calls[0].error?.code).toBe('lock_timeout');
    expect(body.calls[0].lock_wait_ms).toBeGreaterThanOrEqual(LOCK_WAIT_TIMEOUT_MS - 50);
    // VOLLEY_LOCK_PARK_MS is 5 s here: a park that ignored the time left would answer after it.
    expect(answeredAfter).toBeLessThan(LOCK_WAIT_TIMEOUT_MS + 1_000);
    expect(await redis.zcard('volley:lock:q:wait:1')).toBe(1);
    await holding;
    process.stdout.write(`lock wait timeout ${LOCK_WAIT_TIMEOUT_MS} ms: answered after ${answeredAfter} ms\n`);
  });

  it("ends a wait at the call's deadline with lock_timeout, leaving the line and waking who is next", async () => {
    const timedOutBefore = await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'hold', error_code: 'lock_timeout' });
    const reading = fanOut(cluster.api, [hold('reader-1', [r('wait:2')], 3_000)]);
    await waitFor(async () => (await redis.hlen('volley:lock:h:wait:2')) === 1);
    const sentAt = Date.now();
    const writing = fanOut(cluster.api, [hold('writer', [w('wait:2')], 10)], { timeout_ms: 1_000 });
    await waitFor(async () => (await redis.zcard('volley:lock:q:wait:2')) === 2);
    // Behind the waiting writer, this reader waits too (no writer starvation)…
    const reading2 = fanOut(cluster.api, [hold('reader-2', [r('wait:2')], 10)]);
    const writer = await writing;
    const answeredAfter = Date.now() - sentAt;
    expect(writer.calls[0].error?.code).toBe('lock_timeout');
    expect(answeredAfter).toBeLessThan(1_000 + 800);
    // …until the writer leaves the line at its deadline: then it runs beside the first reader.
    const [second, first] = [held(await reading2), held(await reading)];
    expect(second.enter).toBeLessThan(first.exit);
    expect(second.enter).toBeGreaterThanOrEqual(sentAt + 1_000 - 50);
    expect(await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'hold', error_code: 'lock_timeout' })).toBe(timedOutBefore + 1);
    process.stdout.write(
      `lock wait at a 1000 ms deadline: answered after ${answeredAfter} ms; the reader behind it entered ${Math.round(second.enter - sentAt)} ms after\n`,
    );
  });

  it('on SIGTERM, keeps holding for a body past its answer until it ends, then exits', async () => {
    // The body ends 900 ms past its answer, within the bound: the drain waits for it.
    await fanOut(cluster.api, [stubborn('term', { account: 'body-4', body_ms: 1_200 })]);
    const entered = JSON.parse((await redis.lindex('test:entered:body-4', 0))!) as { worker: string };
    const victim = cluster.workers.find((worker) => worker.name === entered.worker)!;
    const stopping = victim.stop('SIGTERM', 8_000);
    const after = await fanOut(cluster.api, [hold('after-term', [w('ledger:body-4')], 10)]);
    const termBody = await bodyOf(redis, 'body-4');
    expect(held(after).enter).toBeGreaterThanOrEqual(termBody.exit - 0.5);
    expect(held(after).worker).not.toBe(victim.name);
    expect(await stopping).toEqual({ code: 0, signal: null });
    await victim.waitForLine((line) => String(line.msg).startsWith('tool body settled after its answer'));
  });
});
