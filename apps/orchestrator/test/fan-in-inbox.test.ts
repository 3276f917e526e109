import { createLogger, failedResult, type ToolCallResult } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FanInInbox } from '../src/fan-out/fan-in-inbox.ts';
import { FanInWaiters } from '../src/fan-out/fan-in-waiters.ts';

const RESULTS: ToolCallResult[] = [
  { ok: true, content: '{"city":"Paris"}', tool_call_id: 'call_1', started_at: 1, finished_at: 2, worker_id: 'w', attempts: 1 },
  failedResult('call_2', { code: 'tool_error', message: 'no' }),
];
const PREFIX = 'inbox-test';

describe('FanInInbox, between two processes on a real Redis', () => {
  let server: TestRedis;
  let redis: Redis;
  const logger = createLogger('test', 'silent');
  const inboxes: FanInInbox[] = [];

  /** One orchestrator's side: its waiters and its inbox, read on a connection named `name`. */
  function instance(name: string) {
    const waiters = new FanInWaiters();
    const inbox = new FanInInbox({ redis, prefix: PREFIX, waiters, logger });
    inbox.listen(new Redis(server.url, { maxRetriesPerRequest: null, connectionName: name }));
    inboxes.push(inbox);
    return { waiters, inbox };
  }

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
  });

  afterAll(async () => {
    await Promise.all(inboxes.map((inbox) => inbox.close()));
    await redis?.quit();
    await server?.stop();
  });

  it("hands results gathered by another instance to the waiting request, through the waiter's inbox", async () => {
    const waiting = instance('waiting-a');
    const gathering = instance('gathering-a');
    const gathered = waiting.waiters.wait('fan-1');
    await gathering.inbox.deliver(waiting.inbox.address, 'fan-1', RESULTS);
    expect(await gathered).toEqual(RESULTS);
    const key = `${PREFIX}:fan-in-inbox:${waiting.inbox.address}`;
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('hands them over in memory when the request is its own, writing nothing', async () => {
    const { waiters, inbox } = instance('local');
    const gathered = waiters.wait('fan-2');
    await inbox.deliver(inbox.address, 'fan-2', RESULTS);
    expect(await gathered).toEqual(RESULTS);
    expect(await redis.exists(`${PREFIX}:fan-in-inbox:${inbox.address}`)).toBe(0);
  });

  it('keeps what arrives while the reading connection is killed, and reads it once back', async () => {
    const waiting = instance('waiting-killed');
    const gathering = instance('gathering-killed');
    const first = waiting.waiters.wait('fan-3');
    await gathering.inbox.deliver(waiting.inbox.address, 'fan-3', RESULTS);
    await first;
    const clients = String(await redis.client('LIST'));
    const id = /id=(\d+) [^\n]*name=waiting-killed/.exec(clients)?.[1];
    expect(id).toBeDefined();
    await redis.client('KILL', 'ID', id!);
    const second = waiting.waiters.wait('fan-4');
    await gathering.inbox.deliver(waiting.inbox.address, 'fan-4', RESULTS.slice(1));
    expect(await second).toEqual(RESULTS.slice(1));
    // Nothing is read twice: the earlier entry is not handed to a new waiter of its fan-in.
    let again = false;
    void waiting.waiters.wait('fan-3').then(() => {
      again = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(again).toBe(false);
  });

  it('ignores a malformed entry and goes on reading', async () => {
    const waiting = instance('waiting-malformed');
    await redis.xadd(`${PREFIX}:fan-in-inbox:${waiting.inbox.address}`, '*', 'fan_in', 'fan-5', 'results', '{"not":"results"}');
    const gathered = waiting.waiters.wait('fan-6');
    await instance('gathering-malformed').inbox.deliver(waiting.inbox.address, 'fan-6', RESULTS);
    expect(await gathered).toEqual(RESULTS);
  });
});
