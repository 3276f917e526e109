import { createLogger, KeySpaces, taskEventsKey, type ToolCallResult } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallEvents, FAN_OUT_EVENTS_TTL_SECONDS, MAX_PROGRESS_BYTES } from '../src/call-events.ts';

const PREFIX = 'ev-test';
let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

let taskCount = 0;
const callOf = (turn: number | undefined) => {
  taskCount += 1;
  return { taskId: `task-${taskCount}`, toolCallId: 'call_1', name: 'probe', arguments: '{}', ...(turn === undefined ? {} : { turn }) };
};
const result = (ok: boolean): ToolCallResult =>
  ok
    ? { ok: true, content: 'x', tool_call_id: 'call_1', started_at: 1_000, finished_at: 1_042, worker_id: 'w', attempts: 1 }
    : { ok: false, error: { code: 'tool_error', message: 'no' }, tool_call_id: 'call_1', started_at: 1_000, finished_at: 1_005, worker_id: 'w', attempts: 2 };

async function eventsOf(taskId: string) {
  const entries = (await redis.xrange(taskEventsKey(PREFIX, taskId), '-', '+')) as Array<[string, string[]]>;
  return entries.map(([, fields]) => ({ event: fields[1]!, data: JSON.parse(fields[3]!) as Record<string, any> }));
}

describe('CallEvents', () => {
  const events = () => new CallEvents({ redis, spaces: new KeySpaces(PREFIX), ttlSeconds: 60, logger: createLogger('test', 'silent'), progressIntervalMs: 50 });

  describe('when the call is not part of a task', () => {
    it('gives no sink: a bare fan-out emits nothing', () => {
      expect(events().forCall(callOf(undefined), 'job-1', 'w')).toBeUndefined();
    });

    it("emits on the fan-out's stream, with no turn and a short TTL, when the fan-out asked for events", async () => {
      const call = { ...callOf(undefined), events: true as const };
      const sink = events().forCall(call, 'job-1', 'w')!;
      sink.started(1);
      sink.progress({ step: 1 });
      await sink.finished(result(true));

      const seen = await eventsOf(call.taskId);
      expect(seen.map((event) => event.event)).toEqual(['tool_call.started', 'tool_call.progress', 'tool_call.finished']);
      expect(seen.map((event) => event.data.turn)).toEqual([null, null, null]);
      const ttl = await redis.ttl(taskEventsKey(PREFIX, call.taskId));
      expect(ttl).toBeGreaterThan(60);
      expect(ttl).toBeLessThanOrEqual(FAN_OUT_EVENTS_TTL_SECONDS);
    });
  });

  describe('when a tool reports progress in a tight loop', () => {
    it('coalesces it: the first at once, the latest before finished, and few events in all', async () => {
      const call = callOf(0);
      const sink = events().forCall(call, 'job-1', 'w')!;
      sink.started(1);
      for (let step = 1; step <= 10_000; step += 1) sink.progress({ step });
      await sink.finished(result(true));
      sink.progress({ step: 'late' });

      const seen = await eventsOf(call.taskId);
      expect(seen.map((event) => event.event)).toEqual(['tool_call.started', 'tool_call.progress', 'tool_call.progress', 'tool_call.finished']);
      expect(seen.map((event) => event.data.value)).toEqual([undefined, { step: 1 }, { step: 10_000 }, undefined]);
      expect(seen[3]!.data).toMatchObject({
        turn: 0,
        tool_call_id: 'call_1',
        name: 'probe',
        status: 'succeeded',
        error_code: null,
        ms: 42,
        attempts: 1,
        worker_id: 'w',
      });
      expect(await redis.ttl(taskEventsKey(PREFIX, call.taskId))).toBeGreaterThan(0);
    });

    it('sends at most one event per interval while the tool runs', async () => {
      const call = callOf(1);
      const sink = events().forCall(call, 'job-1', 'w')!;
      const startedAt = Date.now();
      while (Date.now() - startedAt < 300) {
        sink.progress({ at: Date.now() });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await sink.finished(result(false));

      const progress = (await eventsOf(call.taskId)).filter((event) => event.event === 'tool_call.progress');
      expect(progress.length).toBeGreaterThanOrEqual(4);
      expect(progress.length).toBeLessThanOrEqual(8);
    });
  });

  describe('when a progress value is too large or not JSON', () => {
    it('sends it as truncated or unserializable, never the value', async () => {
      const call = callOf(0);
      const sink = events().forCall(call, 'job-1', 'w')!;
      sink.progress('x'.repeat(MAX_PROGRESS_BYTES + 1));
      await new Promise((resolve) => setTimeout(resolve, 60));
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      sink.progress(cyclic);
      await sink.finished(result(false));

      const [big, bad, finished] = await eventsOf(call.taskId);
      expect(big!.data).toMatchObject({ value: null, truncated: true, bytes: MAX_PROGRESS_BYTES + 3 });
      expect(bad!.data).toMatchObject({ value: null, unserializable: true });
      expect(finished!.data).toMatchObject({ status: 'failed', error_code: 'tool_error' });
    });
  });

  describe('when a locking call parks again and again', () => {
    it('says it waits for a lock once', async () => {
      const call = callOf(0);
      for (let park = 0; park < 3; park += 1) await events().forCall(call, 'job-1', 'w')!.waitingLock();
      await events().forCall(call, 'job-2', 'w')!.waitingLock();

      const seen = await eventsOf(call.taskId);
      expect(seen.map((event) => event.event)).toEqual(['tool_call.waiting_lock', 'tool_call.waiting_lock']);
    });
  });
});
