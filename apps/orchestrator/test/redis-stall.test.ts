import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type ApiResponse, type Cluster } from './support/cluster.ts';
import { ask, assistant, call, callsFromQuestion } from './support/scripted-calls.ts';

const COMMAND_TIMEOUT_MS = 1_000;
/** Every answer during the freeze comes within this: the command timeout, plus room for a busy 2-core machine. */
const BOUND_MS = COMMAND_TIMEOUT_MS + 2_500;
const MiB = 1024 * 1024;
const BODIES_IN_FLIGHT_BYTES = 16 * MiB;
const FLOOD_BODY_BYTES = 4 * MiB;
const FLOOD_SENDERS = 8;
const FLOOD_MS = 5_000;

/**
 * Redis is frozen (SIGSTOP: its sockets stay open and nothing answers, so no client sees a
 * connection error) for 5–6 s. Every lease in play is set well past that, so the test is about
 * the stall alone, not lease expiry: a job lock that lapsed during the freeze (VOLLEY_JOB_LOCK_MS
 * is 10 s by default, and a loaded machine stretches the freeze) would have the stalled-job check
 * hand its job on after the thaw, and a lapsed worker registration would hide its tools until
 * the worker's next heartbeat.
 */
const LONG_LEASES = { VOLLEY_JOB_LOCK_MS: '60000', VOLLEY_STALLED_INTERVAL_MS: '30000' };

type Timed = ApiResponse & { ms: number };

describe('a Redis that stalls', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      redis: { backend: 'redis-server' },
      workers: 1,
      respond: callsFromQuestion,
      orchestratorEnv: {
        ...LONG_LEASES,
        VOLLEY_REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
        VOLLEY_MAX_BODY_BYTES_IN_FLIGHT: String(BODIES_IN_FLIGHT_BYTES),
      },
      workerEnv: { ...LONG_LEASES, VOLLEY_REGISTRY_LEASE_MS: '60000' },
    });
  });

  afterAll(async () => {
    cluster?.redis.thaw?.();
    await cluster?.stop();
  });

  /** A request and how long its answer took; one that got none in twice the bound is status 0. */
  const timed = async (method: string, path: string, body?: unknown): Promise<Timed> => {
    const started = Date.now();
    try {
      const response = await fetch(`${cluster.api.baseUrl}${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(2 * BOUND_MS),
      });
      return { status: response.status, body: await response.json(), ms: Date.now() - started };
    } catch {
      return { status: 0, body: 'no answer', ms: Date.now() - started };
    }
  };
  const nap = (id: string, ms: number) => ({ id, name: 'nap', arguments: { ms, label: id } });
  const redisUnavailable = { error: { code: 'redis_unavailable', message: expect.any(String) } };

  describe('when it freezes while tasks run and clients keep sending large bodies', () => {
    it('answers 503 redis_unavailable within the command timeout, holds memory level, and loses nothing once it wakes', async () => {
      // Work in flight when Redis freezes: three tasks whose calls run across the freeze, and a
      // bare fan-out whose request waits across it.
      const tasks = await Promise.all([0, 1, 2].map((n) => cluster.api.post('/v1/tasks', ask([nap(`t${n}-a`, 3_000), nap(`t${n}-b`, 3_000)]))));
      const taskIds = tasks.map(({ body }) => body.id as string);
      await waitFor(async () => (await cluster.client.llen('volley:tools-default:active')) >= 4, { message: 'the tasks’ calls did not start' });
      const acrossFreeze = cluster.api.post('/v1/tool-calls', {
        message: assistant(call('across-1', 'nap', { ms: 1_500 }), call('across-2', 'nap', { ms: 10 })),
        timeout_ms: 30_000,
      });
      // And one whose timeout_ms passes while Redis is frozen: it answers at its deadline.
      const deadlineInFreeze = timed('POST', '/v1/tool-calls', { message: assistant(call('deadline-1', 'nap', { ms: 10_000 })), timeout_ms: 1_500 });
      // Both fan-outs are on the queue (each names its calls while it runs; the tasks' fan-in jobs wait for theirs).
      await waitFor(
        async () => (await cluster.client.zcard('volley:turns:waiting-children')) >= 3 && (await cluster.client.keys('volley:fan-out:*:calls')).length >= 2,
        { message: 'the fan-outs were not enqueued' },
      );
      await delay(100);
      const orchestrator = cluster.orchestrators[0]!;
      const rssBefore = rssKiB(orchestrator.pid);

      cluster.redis.freeze!();
      const frozenAt = Date.now();
      // While Redis is still believed up, the first requests wait out one command timeout; a
      // flood of large bodies starts at the same moment.
      const flood = floodWithBodies(cluster.api.baseUrl, orchestrator.pid);
      const [taskRead, taskSubmit, toolCalls] = await Promise.all([
        timed('GET', `/v1/tasks/${taskIds[0]}`),
        timed('POST', '/v1/tasks', ask([nap('during', 10)])),
        timed('POST', '/v1/tool-calls', { message: assistant(call('during-1', 'nap', { ms: 10 })) }),
      ]);
      const flooded = await flood;
      // Once Redis is known not to answer: refused at the door, without waiting on it.
      const known = await Promise.all([
        timed('GET', `/v1/tasks/${taskIds[1]}`),
        timed('POST', '/v1/tasks', ask([nap('during-2', 10)])),
        timed('POST', '/v1/tool-calls', { message: assistant(call('during-3', 'nap', { ms: 10 })) }),
        timed('GET', '/v1/tools'),
        timed('POST', `/v1/tasks/${taskIds[2]}/cancel`),
      ]);
      const atDeadline = await deadlineInFreeze;
      const readyz = await timed('GET', '/readyz');
      const healthz = await timed('GET', '/healthz');
      const frozenMs = Date.now() - frozenAt;
      cluster.redis.thaw!();
      console.info(
        `redis frozen ${frozenMs} ms; first answers ${[taskRead, taskSubmit, toolCalls].map((r) => r.ms).join('/')} ms, ` +
          `then ${known.map((r) => r.ms).join('/')} ms; past its deadline ${atDeadline.ms} ms; flood: ${flooded.answers} answers (${JSON.stringify(flooded.codes)}), ` +
          `slowest ${flooded.slowestMs} ms, RSS ${Math.round(rssBefore / 1024)} MiB → peak ${Math.round(flooded.firstHalfPeakKiB / 1024)} / ` +
          `${Math.round(flooded.secondHalfPeakKiB / 1024)} MiB (first / second half of the flood)`,
      );

      for (const response of [taskRead, taskSubmit, toolCalls, ...known]) {
        expect(response.body, `${response.status} after ${response.ms} ms`).toEqual(redisUnavailable);
        expect(response.status).toBe(503);
        expect(response.ms).toBeLessThan(BOUND_MS);
      }
      // Refused at the door: none of them waited out a command timeout of its own.
      for (const response of known) expect(response.ms).toBeLessThan(COMMAND_TIMEOUT_MS);
      expect(readyz.status).toBe(503);
      expect(readyz.body.error.code).toBe('redis_unavailable');
      expect(readyz.ms).toBeLessThan(BOUND_MS);
      expect(healthz.status).toBe(200);
      // Its answer needs Redis (what finished, what to withdraw), so it is the 503, at its deadline plus the bound.
      expect(atDeadline.body, `${atDeadline.status} after ${atDeadline.ms} ms`).toEqual(redisUnavailable);
      expect(atDeadline.ms).toBeLessThan(1_500 + BOUND_MS);

      // Every flood request got a 503 in time, none was left hanging, and the bodies did not pile up.
      expect(flooded.unanswered).toBe(0);
      expect(flooded.slowestMs).toBeLessThan(BOUND_MS);
      for (const code of Object.keys(flooded.codes)) expect(['redis_unavailable', 'overloaded']).toContain(code);
      // Before the first timeout told the door, bodies were read; past 16 MiB of them, refused unread.
      expect(flooded.codes.overloaded).toBeGreaterThan(0);
      expect(flooded.codes.redis_unavailable).toBeGreaterThan(0);
      expect(flooded.answers).toBeGreaterThan(FLOOD_SENDERS * 3);
      // At most 16 MiB of bodies are held at once (reading and parsing one takes about three times
      // its size), and bodies refused unread are garbage at once: RSS rises while the first
      // requests wait out their timeout, then stays level however long the flood goes on.
      // Unbounded, every request a sender gave up on would hold its body, and RSS would climb for
      // as long as the freeze lasts: 4 MiB for each of the ~200 answers of the second half. Level
      // still moves by a few bodies' worth with when V8 collects (+8 and +26 MiB seen on a busy
      // machine), hence a bound of 12 bodies, far below a climb.
      expect(flooded.peakRssKiB - rssBefore).toBeLessThan(160 * 1024);
      expect(flooded.secondHalfPeakKiB - flooded.firstHalfPeakKiB).toBeLessThan((12 * FLOOD_BODY_BYTES) / 1024);

      // Redis answers again: the door opens, and the work in flight completes with every result.
      await waitFor(async () => (await cluster.api.get('/readyz')).status === 200, { timeoutMs: 10_000, message: 'readyz did not recover' });
      for (const id of taskIds) {
        const task = await cluster.api.waitForTask(id, 30_000);
        const results = task.messages.filter((message: any) => message.role === 'tool');
        expect(task.status, JSON.stringify(task.error)).toBe('completed');
        expect(results).toHaveLength(2);
        for (const result of results) expect(JSON.parse(result.content).error).toBeUndefined();
      }
      const across = await acrossFreeze;
      expect(across.status).toBe(200);
      expect(across.body.messages.map((message: any) => message.tool_call_id)).toEqual(['across-1', 'across-2']);
      for (const message of across.body.messages) expect(JSON.parse(message.content).error).toBeUndefined();

      // And new work goes through as before.
      const fresh = await cluster.api.post('/v1/tasks', ask([nap('after', 10)]));
      expect(fresh.status).toBe(202);
      expect((await cluster.api.waitForTask(fresh.body.id)).status).toBe('completed');
      const bare = await cluster.api.post('/v1/tool-calls', { message: assistant(call('after-1', 'nap', { ms: 10 })) });
      expect(bare.status).toBe(200);
      expect(JSON.parse(bare.body.messages[0].content).error).toBeUndefined();
      // Nothing along the way was an error of ours (a 500 is logged at error).
      expect(orchestrator.lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
    });
  });
});

function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0);
}

/**
 * Senders that each keep one request of a 4 MiB body to `POST /v1/tool-calls` in flight for
 * `FLOOD_MS`, giving up on (and counting) any that takes longer than the bound, while the
 * orchestrator's RSS is sampled.
 */
async function floodWithBodies(baseUrl: string, pid: number) {
  const message = assistant(call('flood-1', 'nap', { ms: 1 }));
  // Encoded once: the senders share one machine's two cores with the orchestrator.
  const body = Buffer.from(JSON.stringify({ message: { ...message, content: 'x'.repeat(FLOOD_BODY_BYTES) } }));
  const codes: Record<string, number> = {};
  let answers = 0;
  let unanswered = 0;
  let slowestMs = 0;
  const started = Date.now();
  const until = started + FLOOD_MS;
  /** Peak RSS of the flood's first half, and of its second. */
  const peaks = [rssKiB(pid), 0];
  const sampler = setInterval(() => {
    const half = Date.now() - started < FLOOD_MS / 2 ? 0 : 1;
    peaks[half] = Math.max(peaks[half]!, rssKiB(pid));
  }, 50);
  const sender = async () => {
    while (Date.now() < until) {
      const started = Date.now();
      try {
        const response = await fetch(`${baseUrl}/v1/tool-calls`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(BOUND_MS),
        });
        const answer = (await response.json()) as { error?: { code: string } };
        const code = answer.error?.code ?? `status ${response.status}`;
        codes[code] = (codes[code] ?? 0) + 1;
        answers += 1;
      } catch {
        unanswered += 1;
      }
      slowestMs = Math.max(slowestMs, Date.now() - started);
    }
  };
  try {
    await Promise.all(Array.from({ length: FLOOD_SENDERS }, sender));
  } finally {
    clearInterval(sampler);
  }
  peaks[1] = Math.max(peaks[1]!, rssKiB(pid));
  return { codes, answers, unanswered, slowestMs, peakRssKiB: Math.max(...peaks), firstHalfPeakKiB: peaks[0]!, secondHalfPeakKiB: peaks[1]! };
}
