import { randomUUID } from 'node:crypto';
import { failedResult, type ToolCallResult } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listenForFanIn } from '../src/fan-out/fan-in-completion.ts';

const RESULTS: ToolCallResult[] = [
  { ok: true, content: '{"city":"Paris"}', tool_call_id: 'call_1', started_at: 1, finished_at: 2, worker_id: 'w', attempts: 1 },
  failedResult('call_2', { code: 'tool_error', message: 'no' }),
];

describe('listenForFanIn, against a real BullMQ queue', () => {
  let server: TestRedis;
  let redis: Redis;
  let queue: Queue;
  let events: QueueEvents;
  let worker: Worker | undefined;
  const name = `fan-in-${randomUUID()}`;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    queue = new Queue(name, { connection: redis });
    events = new QueueEvents(name, { connection: new Redis(server.url, { maxRetriesPerRequest: null }) });
    await events.waitUntilReady();
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });

  afterAll(async () => {
    await events?.close();
    await queue?.close();
    await redis?.quit();
    await server?.stop();
  });

  /** A fan-in that a worker takes, answers with `value` (or fails) and removes at once. */
  async function gatherAndRemove(jobId: string, value: unknown | Error): Promise<Job> {
    await worker?.close();
    const done = new Promise<void>((resolve) => {
      worker = new Worker(
        name,
        async () => {
          if (value instanceof Error) throw value;
          return value;
        },
        { connection: redis.duplicate({ maxRetriesPerRequest: null }) },
      );
      worker.on('completed', () => resolve());
      worker.on('failed', () => resolve());
    });
    const job = await queue.add('fan-in', {}, { jobId, removeOnComplete: true, removeOnFail: true });
    await done;
    return job;
  }

  describe('when the fan-in is gathered and removed before its waiter holds the job', () => {
    it('still hands over the results, where waitUntilFinished finds the job missing', async () => {
      const jobId = `tc-${randomUUID()}`;
      const completion = listenForFanIn(events, jobId);
      const job = await gatherAndRemove(jobId, RESULTS);

      expect(await completion.gathered).toEqual(RESULTS);
      // What the request used to do at this point: the job is gone, and so are its results.
      await expect(job.waitUntilFinished(events, 1_000)).rejects.toThrow(/Missing key/);
    });
  });

  describe('when the fan-in fails, or its value is not results', () => {
    it('resolves undefined, so the request answers at its deadline from what Redis holds', async () => {
      const jobId = `tc-${randomUUID()}`;
      const failing = listenForFanIn(events, jobId);
      await gatherAndRemove(jobId, new Error('the step kept failing'));
      expect(await failing.gathered).toBeUndefined();

      const otherId = `tc-${randomUUID()}`;
      const odd = listenForFanIn(events, otherId);
      await gatherAndRemove(otherId, { not: 'results' });
      expect(await odd.gathered).toBeUndefined();
    });
  });

  describe('when the waiter stops listening', () => {
    it('leaves no listener behind', async () => {
      const jobId = `tc-${randomUUID()}`;
      const completion = listenForFanIn(events, jobId);
      expect(events.listenerCount(`completed:${jobId}` as never)).toBe(1);
      completion.stop();
      expect(events.listenerCount(`completed:${jobId}` as never)).toBe(0);
      expect(events.listenerCount(`failed:${jobId}` as never)).toBe(0);
    });
  });
});
