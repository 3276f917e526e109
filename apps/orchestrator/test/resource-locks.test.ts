import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { assistant, call, seeded } from './support/scripted-calls.ts';
import { exclusionViolations, independentOverlaps, orderViolations, overlaps, type Touch } from './support/overlap.ts';

type Claim = { key: string; mode: 'read' | 'write' };
const w = (key: string): Claim => ({ key, mode: 'write' });
const r = (key: string): Claim => ({ key, mode: 'read' });
const touch = (id: string, claims: Claim[], ms: number) => call(id, 'touch', { claims, ms, label: id });
const nap = (id: string, ms: number) => call(id, 'nap', { ms, label: id });

async function fanOut(cluster: Cluster, toolCalls: unknown[], extra: Record<string, unknown> = {}) {
  const { status, body } = await cluster.api.post('/v1/tool-calls', { message: assistant(...toolCalls), ...extra });
  expect(status, JSON.stringify(body)).toBe(200);
  return body as { messages: Array<{ tool_call_id: string; content: string }>; calls: any[] };
}

function touchesOf(body: { messages: Array<{ content: string }> }, messageIndex = 0): Touch[] {
  return body.messages.map((m, index) => ({ ...JSON.parse(m.content), message: messageIndex, index }));
}

describe('resource locks', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, toolModules: [TEST_TOOLS, STATEFUL_TOOLS] });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('within one assistant message', () => {
    it('runs conflicting calls in model order and everything else at once', async () => {
      const body = await fanOut(cluster, [
        touch('create', [w('record:7')], 150),
        touch('update', [w('record:7')], 50),
        touch('other_record', [w('record:8')], 150),
        nap('weather', 150),
        touch('read_1', [r('doc:1')], 150),
        touch('read_2', [r('doc:1')], 150),
      ]);
      const [create, update, other, , read1, read2] = body.messages.map((m) => JSON.parse(m.content));
      const weather = body.calls[3];
      expect(update.enter).toBeGreaterThanOrEqual(create.exit);
      expect(overlaps(create, other)).toBe(true);
      expect(weather.started_at).toBeLessThan(create.exit);
      expect(weather.finished_at).toBeGreaterThan(create.enter);
      expect(overlaps(read1, read2)).toBe(true);
      expect(body.calls[1].lock_wait_ms).toBeGreaterThanOrEqual(150);
      expect(body.calls[3].lock_wait_ms).toBeUndefined();
    });

    it('lets a writer between readers wait for the first and hold back the second', async () => {
      const body = await fanOut(cluster, [touch('r1', [r('doc:2')], 100), touch('w', [w('doc:2')], 50), touch('r2', [r('doc:2')], 100)]);
      const [r1, writer, r2] = touchesOf(body);
      expect(writer!.enter).toBeGreaterThanOrEqual(r1!.exit);
      expect(r2!.enter).toBeGreaterThanOrEqual(writer!.exit);
    });

    it('hands out growing fencing tokens, one per resource for multi-resource calls', async () => {
      const body = await fanOut(cluster, [touch('a', [w('fence:1')], 10), touch('b', [w('fence:1'), w('fence:2')], 10)]);
      const [a, b] = touchesOf(body);
      expect(typeof a!.fencingToken).toBe('number');
      expect(b!.fencingToken).toEqual({ 'fence:1': (a!.fencingToken as number) + 1, 'fence:2': expect.any(Number) });
    });

    it('runs every call one by one in model order when execution is sequential', async () => {
      const body = await fanOut(cluster, [nap('s1', 80), nap('s2', 80), touch('s3', [w('seq:x')], 80)], { execution: 'sequential' });
      const calls = body.calls;
      expect(calls[1].started_at).toBeGreaterThanOrEqual(calls[0].finished_at);
      expect(calls[2].started_at).toBeGreaterThanOrEqual(calls[1].finished_at);
    });
  });

  describe('under contention from many messages on two workers', () => {
    it('never overlaps conflicting calls, keeps model order, and still runs independent calls together', async () => {
      const random = seeded(7);
      const keys = ['acct:1', 'acct:2', 'acct:3'];
      const messages = Array.from({ length: 12 }, (_, m) =>
        Array.from({ length: 10 }, (_, i) => {
          const id = `m${m}_c${i}`;
          if (i % 5 === 4) return touch(id, [w(`private:${m}:${i}`)], 20);
          const first = keys[Math.floor(random() * keys.length)]!;
          const mode = random() < 0.4 ? 'read' : 'write';
          const claims: Claim[] = [{ key: first, mode }];
          // Some calls hold two resources, named in either order: the deadlock-prone shape.
          if (random() < 0.3) claims.unshift(w(keys.find((key) => key !== first)!));
          return touch(id, claims, 5 + Math.floor(random() * 20));
        }),
      );
      const started = Date.now();
      const bodies = await Promise.all(messages.map((calls) => fanOut(cluster, calls)));
      const elapsed = Date.now() - started;
      const touches = bodies.flatMap((body, m) => touchesOf(body, m));

      expect(touches).toHaveLength(120);
      expect(bodies.flatMap((body) => body.calls.map((c) => c.status)).every((s) => s === 'succeeded')).toBe(true);
      expect(exclusionViolations(touches)).toEqual([]);
      expect(orderViolations(touches)).toEqual([]);
      expect(independentOverlaps(touches)).toBeGreaterThan(10);
      // Tokens of one resource grow in the order its writers held it.
      for (const key of keys) {
        const writers = touches
          .filter((t) => t.claims.some((c) => c.key === key && c.mode === 'write'))
          .sort((a, b) => a.enter - b.enter)
          .map((t) => (typeof t.fencingToken === 'number' ? t.fencingToken : t.fencingToken![key]!));
        expect(writers).toEqual([...writers].sort((a, b) => a - b));
      }
      const workers = new Set(bodies.flatMap((body) => body.calls.map((c) => c.worker_id)));
      expect(workers).toEqual(new Set(['worker-1', 'worker-2']));
      expect(elapsed).toBeLessThan(30_000);
    });
  });

  describe('when a call is retried', () => {
    it('keeps its idempotency key and its place', async () => {
      const body = await fanOut(cluster, [
        { id: 'flaky', type: 'function', function: { name: 'flaky_write', arguments: '{"key":"retry:1"}' } },
        touch('after', [w('retry:1')], 10),
      ]);
      const flaky = JSON.parse(body.messages[0]!.content);
      expect(flaky.attempt).toBe(2);
      expect(body.calls[0].attempts).toBe(2);
      const attempts = (await cluster.client.lrange('test:attempts:retry:1', 0, -1)).map((line) => JSON.parse(line));
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
      expect(attempts[1].idempotencyKey).toBe(attempts[0].idempotencyKey);
      expect(attempts[1].fencingToken).toBeGreaterThan(attempts[0].fencingToken);
      const after = JSON.parse(body.messages[1]!.content);
      expect(after.enter).toBeGreaterThanOrEqual(body.calls[0].finished_at - 1);
    });
  });
});

describe('resource locks with one slot per worker', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, toolModules: [TEST_TOOLS, STATEFUL_TOOLS], workerEnv: { VOLLEY_WORKER_CONCURRENCY: '1' } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('parks waiting calls instead of letting them hold a slot', async () => {
    const body = await fanOut(cluster, [
      touch('first', [w('busy')], 400),
      touch('second', [w('busy')], 100),
      touch('third', [w('busy')], 100),
      nap('independent', 50),
    ]);
    const [first, second, third] = touchesOf(body);
    const independent = body.calls[3];
    // Two slots in all: had the waiting calls held one, the nap could not start before `first` ended.
    expect(independent.finished_at).toBeLessThan(first!.exit);
    expect(second!.enter).toBeGreaterThanOrEqual(first!.exit);
    expect(third!.enter).toBeGreaterThanOrEqual(second!.exit);
  });
});
