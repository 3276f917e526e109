import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Responder } from '@volley/scripted-model';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type ApiResponse, type Cluster } from './support/cluster.ts';
import { assistant, call, callsFromQuestion } from './support/scripted-calls.ts';

const COMMAND_TIMEOUT_MS = 1_000;
/** The command timeout, plus room for a busy 2-core machine (as in redis-stall.test.ts). */
const BOUND_MS = COMMAND_TIMEOUT_MS + 2_500;
/** Leases past the freeze, so the test is about the stall alone (see redis-stall.test.ts). */
const LONG_LEASES = { VOLLEY_JOB_LOCK_MS: '60000', VOLLEY_STALLED_INTERVAL_MS: '30000' };

const respond: Responder = (request) => {
  const question = String(request.messages.findLast((m) => m.role === 'user')?.content ?? '');
  return question.includes('calls:') ? callsFromQuestion(request) : { content: 'done' };
};

type Timed = ApiResponse & { ms: number; replayed: string | null };

/**
 * The submission routes over request handling's Redis connection: while Redis is frozen they
 * answer 503 within the command timeout, a duplicate waiting for the first answer included, and
 * what they claimed is not left behind: once Redis is back, the idempotency keys work as before.
 */
describe('idempotent submission, listing and deletion while Redis stalls', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      redis: { backend: 'redis-server' },
      workers: 1,
      respond,
      orchestratorEnv: { ...LONG_LEASES, VOLLEY_REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), VOLLEY_TASK_RATE_LIMIT: '0' },
      workerEnv: { ...LONG_LEASES, VOLLEY_REGISTRY_LEASE_MS: '60000' },
    });
  });

  afterAll(async () => {
    cluster?.redis.thaw?.();
    await cluster?.stop();
  });

  const timed = async (method: string, path: string, body?: unknown, key?: string): Promise<Timed> => {
    const started = Date.now();
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (key !== undefined) headers['idempotency-key'] = key;
    try {
      const response = await fetch(`${cluster.api.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(40_000),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text ? JSON.parse(text) : undefined,
        ms: Date.now() - started,
        replayed: response.headers.get('idempotent-replayed'),
      };
    } catch {
      return { status: 0, body: 'no answer', ms: Date.now() - started, replayed: null };
    }
  };

  it('answers 503 within the bound, and leaves every key usable once Redis is back', async () => {
    const account = `stall-${randomUUID().slice(0, 8)}`;
    const fanOut = { message: assistant(call('pay', 'ledger_append', { account, amount: 7 }), call('wait', 'nap', { ms: 1_500 })), timeout_ms: 30_000 };
    const toolKey = randomUUID();
    const taskKey = randomUUID();
    const taskBody = { messages: [{ role: 'user', content: 'submitted in a freeze' }] };
    const finished = (await timed('POST', '/v1/tasks', { messages: [{ role: 'user', content: 'to delete' }] })).body.id as string;
    await cluster.api.waitForTask(finished);

    const first = timed('POST', '/v1/tool-calls', fanOut, toolKey);
    await waitFor(async () => (await cluster.client.llen('volley:tools-default:active')) >= 1, { message: 'the first fan-out did not start' });
    const duplicate = timed('POST', '/v1/tool-calls', fanOut, toolKey);
    await delay(200);

    cluster.redis.freeze!();
    const during = await Promise.all([
      duplicate,
      timed('POST', '/v1/tasks', taskBody, taskKey),
      timed('GET', '/v1/tasks'),
      timed('DELETE', `/v1/tasks/${finished}`),
    ]);
    await delay(500);
    cluster.redis.thaw!();
    console.info(`during the freeze: ${during.map((r) => `${r.status} in ${r.ms} ms`).join(', ')}`);
    for (const answer of during) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(503);
      expect(answer.body.error.code).toBe('redis_unavailable');
      expect(answer.ms).toBeLessThan(BOUND_MS);
    }

    // The first request waited across the freeze and answers once its calls are gathered.
    const answered = await first;
    expect(answered.status, JSON.stringify(answered.body)).toBe(200);
    expect(answered.body.calls.map((c: { status: string }) => c.status)).toEqual(['succeeded', 'succeeded']);

    // Once the door is open again: the duplicate gets the recorded answer, and the fan-out ran once.
    const again = await waitFor(async () => {
      const answer = await timed('POST', '/v1/tool-calls', fanOut, toolKey);
      return answer.status === 503 ? undefined : answer;
    });
    expect(again.status).toBe(200);
    expect(again.replayed).toBe('true');
    expect(again.body).toEqual(answered.body);
    expect(await cluster.client.llen(`volley:ledger:${account}:entries`)).toBe(1);

    // The submission refused in the freeze left its key free: the retry creates, at once.
    const retried = await timed('POST', '/v1/tasks', taskBody, taskKey);
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    expect(retried.replayed).toBeNull();
    expect(retried.ms).toBeLessThan(2_000);
    expect((await timed('POST', '/v1/tasks', taskBody, taskKey)).body.id).toBe(retried.body.id);

    expect((await timed('DELETE', `/v1/tasks/${finished}`)).status).toBe(200);
    expect((await timed('GET', '/v1/tasks')).body.tasks.map((t: { id: string }) => t.id)).not.toContain(finished);
  }, 60_000);
});
