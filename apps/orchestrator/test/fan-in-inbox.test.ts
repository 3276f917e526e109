import { createLogger, failedResult, FanInReplies, fanInInboxKey, KeySpaces, type ToolCallResult } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FanInInbox } from '../src/fan-out/fan-in-inbox.ts';
import { FanInWaiters } from '../src/fan-out/fan-in-waiters.ts';

const PREFIX = 'inbox-test';
const QUEUE = 'inbox-calls';

function ok(toolCallId: string, content = `{"id":"${toolCallId}"}`): ToolCallResult {
  return { ok: true, content, tool_call_id: toolCallId, started_at: 1, finished_at: 2, worker_id: 'w', attempts: 1 };
}

describe('FanInInbox and FanInReplies: the results of bare calls, from real BullMQ jobs, on a real Redis', () => {
  let server: TestRedis;
  let redis: Redis;
  let queues: Queue[];
  let worker: Worker[];
  const spaces = new KeySpaces(PREFIX, 2);
  const logger = createLogger('test', 'silent');
  const inboxes: FanInInbox[] = [];
  /** What the test's processor does with each job it runs (by job name). */
  const runs = new Map<string, (job: Job, token: string | undefined) => Promise<unknown>>();

  /** One orchestrator's side: its waiters and its inboxes, read on connections named `name`. */
  function instance(name: string) {
    const waiters = new FanInWaiters();
    const inbox = new FanInInbox({ spaces, waiters, logger });
    inbox.listen(() => new Redis(server.url, { maxRetriesPerRequest: null, connectionName: name }));
    inboxes.push(inbox);
    return { waiters, inbox };
  }

  /** Runs `run` as the processor of one job in the given shard; resolves with what it returned. */
  async function inJob<T>(shard: number, run: (job: Job, token: string | undefined) => Promise<T>): Promise<T> {
    const name = `job-${runs.size}`;
    const done = new Promise<T>((resolve, reject) => {
      runs.set(name, (job, token) => run(job, token).then(resolve, reject));
    });
    await queues[shard]!.add(name, {}, { removeOnComplete: true });
    return done;
  }

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    queues = spaces.shards.map((prefix) => new Queue(QUEUE, { connection: redis, prefix }));
    worker = spaces.shards.map(
      (prefix) =>
        new Worker(QUEUE, (job: Job, token?: string) => runs.get(job.name)!(job, token), {
          connection: new Redis(server.url, { maxRetriesPerRequest: null }),
          prefix,
          concurrency: 4,
        }),
    );
  });

  afterAll(async () => {
    await Promise.all(inboxes.map((inbox) => inbox.close()));
    await Promise.all(worker.map((w) => w.close()));
    await Promise.all(queues.map((queue) => queue.close()));
    await redis?.quit();
    await server?.stop();
  });

  it('gathers a fan-out from calls delivered one by one, in both shards, keeping the first result of each call', async () => {
    const waiting = instance('waiting-a');
    const replies = new FanInReplies({ redis });
    const gathered = waiting.waiters.wait('fan-1', ['call_1', 'call_2']);
    // Two calls in one tick of one job: one script for both (they share an inbox), then a late duplicate.
    const delivered = await inJob(0, (job, token) =>
      Promise.all([
        replies.deliver(job, token, waiting.inbox.address, 'fan-1', ok('call_1')),
        replies.deliver(job, token, waiting.inbox.address, 'fan-1', ok('call_1', 'again')),
      ]),
    );
    expect(delivered).toEqual([true, true]);
    await inJob(1, (job, token) => replies.deliver(job, token, waiting.inbox.address, 'fan-1', ok('call_2')));
    const results = await gathered.all;
    expect(results.get('call_1')).toEqual(ok('call_1'));
    expect(results.get('call_2')).toEqual(ok('call_2'));
    for (const prefix of spaces.shards) expect(await redis.pttl(fanInInboxKey(prefix, waiting.inbox.address))).toBeGreaterThan(0);
  });

  it("refuses the delivery of a run that no longer holds its job's lock; a failed job's answer needs none", async () => {
    const waiting = instance('waiting-stale');
    const replies = new FanInReplies({ redis });
    const gathered = waiting.waiters.wait('fan-2', ['call_1']);
    const stale = await inJob(0, (job) => replies.deliver(job, 'a-token-that-lapsed', waiting.inbox.address, 'fan-2', ok('call_1', 'stale')));
    expect(stale).toBe(false);
    expect(await redis.xlen(fanInInboxKey(spaces.shards[0]!, waiting.inbox.address))).toBe(0);
    const failed = failedResult('call_1', { code: 'tool_crashed', message: 'the call failed: boom' });
    // A job no worker reads stands in for one BullMQ failed: it holds no lock.
    const unread = new Queue('inbox-unread', { connection: redis, prefix: spaces.shards[0]! });
    const job = await unread.add('failed-for-good', {});
    expect(await replies.deliver(job, undefined, waiting.inbox.address, 'fan-2', failed)).toBe(true);
    expect((await gathered.all).get('call_1')).toEqual(failed);
    await unread.close();
  });

  it('keeps what arrives while the reading connection is killed, and reads it once back', async () => {
    const waiting = instance('waiting-killed');
    const replies = new FanInReplies({ redis });
    const first = waiting.waiters.wait('fan-3', ['call_1']);
    await inJob(0, (job, token) => replies.deliver(job, token, waiting.inbox.address, 'fan-3', ok('call_1')));
    await first.all;
    const clients = String(await redis.client('LIST'));
    const ids = [...clients.matchAll(/id=(\d+) [^\n]*name=waiting-killed/g)].map((match) => match[1]!);
    expect(ids).toHaveLength(spaces.shards.length);
    for (const id of ids) await redis.client('KILL', 'ID', id);
    const second = waiting.waiters.wait('fan-4', ['call_9']);
    await inJob(0, (job, token) => replies.deliver(job, token, waiting.inbox.address, 'fan-4', ok('call_9')));
    expect((await second.all).get('call_9')).toEqual(ok('call_9'));
    // Nothing is read twice: the earlier entry is not handed to a new waiter of its fan-out.
    const again = waiting.waiters.wait('fan-3', ['call_1']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(again.received.size).toBe(0);
    waiting.waiters.forget('fan-3');
  });

  it('ignores a malformed entry and goes on reading', async () => {
    const waiting = instance('waiting-malformed');
    await redis.xadd(fanInInboxKey(spaces.shards[0]!, waiting.inbox.address), '*', 'fan_in', 'fan-5', 'results', '{"not":"results"}');
    const gathered = waiting.waiters.wait('fan-6', ['call_1']);
    await inJob(0, (job, token) => new FanInReplies({ redis }).deliver(job, token, waiting.inbox.address, 'fan-6', ok('call_1')));
    expect((await gathered.all).get('call_1')).toEqual(ok('call_1'));
  });
});
