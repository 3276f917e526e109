import {
  Approvals,
  createLogger,
  KeySpaces,
  lockTicket,
  taskEndedKey,
  toolQueueName,
  type ApprovalRecord,
  type ToolCallJobData,
  type ToolCallResult,
} from '@volley/shared';
import { startRedis, waitFor, type TestRedis } from '@volley/shared/testing';
import { defineTool } from '@volley/tools';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallEvents } from '../src/call-events.ts';
import { CallResults } from '../src/call-results.ts';
import { JobWaker } from '../src/locks/job-waker.ts';
import { OverrunHolds } from '../src/locks/overrun-holds.ts';
import { ResourceLocks } from '../src/locks/resource-locks.ts';
import { PickupCheck } from '../src/pickup-check.ts';
import { createToolCallProcessor } from '../src/run-tool-call.ts';
import { createToolSet } from '../src/tool-set.ts';

const logger = createLogger('test', 'silent');
/** Far beyond the tests' bound: a parked call that nobody wakes sleeps this long. */
const PARK_MS = 60_000;
const HOLD_MS = 20_000;
const PARKED = 'call_parked';
const spaces = new KeySpaces('park-test', 1);
const prefix = spaces.home;
const queueName = toolQueueName('default');

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const cancel = (taskId: string) => redis.set(taskEndedKey(prefix, taskId), 'cancelled');

/**
 * The task events of the calls, except that when the second call is about to park behind the
 * holder (once it holds) it sets the task's ended mark: a cancel landing between the call's
 * pick-up check and its move to delayed, whose promote found the job still active.
 */
class CancelledWhileParkingForLock extends CallEvents {
  override forCall(data: ToolCallJobData, jobId: string, workerId: string) {
    const sink = super.forCall(data, jobId, workerId);
    if (!sink) return undefined;
    return {
      ...sink,
      waitingLock: async () => {
        await sink.waitingLock();
        if (data.toolCallId !== PARKED) return;
        // The holder holds (woken when this call's declaration completed the plan), and runs on.
        await waitFor(async () => (await redis.keys(`${prefix}:lock:h:*`)).length === 1, { timeoutMs: 5_000 });
        await cancel(data.taskId);
      },
    };
  }
}

/** Approvals, except that the task is cancelled as soon as a call's request is recorded, before it parks. */
class CancelledWhileParkingForApproval extends Approvals {
  override async request(taskId: string, record: ApprovalRecord) {
    const requested = await super.request(taskId, record);
    await cancel(taskId);
    return requested;
  }
}

/** A worker of real BullMQ jobs on a real Redis, assembled as main.ts does, with `hold` as its tool. */
function startWorker(options: { events?: CallEvents; approvals?: Approvals }) {
  const hold = defineTool({
    name: 'hold',
    description: 'holds the account for a while, whatever its signal says',
    parameters: { type: 'object', properties: { ms: { type: 'number' } }, required: ['ms'] },
    resources: () => [{ key: 'acct', mode: 'write' }],
    needsApproval: () => options.approvals !== undefined,
    execute: async ({ ms }: { ms: number }) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return 'held';
    },
  });
  const locks = new ResourceLocks({ redis, prefix, leaseMs: 2_000 });
  const waker = new JobWaker({ connection: redis });
  const processor = createToolCallProcessor({
    tools: createToolSet([{ tool: hold, source: 'test' }]),
    workerId: 'park-test-worker',
    defaultTimeoutMs: 60_000,
    maxArgumentDepth: 8,
    maxResultBytes: 100_000,
    logger,
    locking: {
      locks,
      waker,
      results: new CallResults({ redis, prefix }),
      overruns: new OverrunHolds({ locks, waker, abandonAfterMs: 60_000, logger, onAbandoned: () => undefined }),
      parkMs: PARK_MS,
      lockWaitTimeoutMs: 120_000,
      logger,
    },
    pickup: new PickupCheck({ redis }),
    ...(options.events ? { events: options.events } : {}),
    ...(options.approvals ? { approvals: { approvals: options.approvals, redis, spaces, timeoutMs: 120_000, parkMs: PARK_MS, logger } } : {}),
  });
  const queue = new Queue(queueName, { connection: redis, prefix });
  const worker = new Worker<ToolCallJobData, ToolCallResult>(queueName, (job, token, signal) => processor(job, token, signal), {
    connection: redis,
    prefix,
    concurrency: 2,
  });
  return {
    queue,
    close: async () => {
      await worker.close(true);
      await queue.close();
    },
  };
}

/** The calls of one message on one account, `hold`ing it for these times, in model order. */
async function enqueue(queue: Queue, taskId: string, calls: Array<{ id: string; ms: number }>): Promise<string[]> {
  const siblings = calls.map(({ id }) => lockTicket(`${prefix}:${queueName}`, `${taskId}-${id}`));
  await queue.addBulk(
    calls.map(({ id, ms }, rank) => ({
      name: 'hold',
      data: {
        taskId,
        toolCallId: `call_${id}`,
        name: 'hold',
        arguments: JSON.stringify({ ms }),
        turn: 0,
        lock: { group: `${taskId}:0`, rank, siblings, sequential: false },
      },
      opts: { jobId: `${taskId}-${id}` },
    })),
  );
  return siblings;
}

async function answerOf(queue: Queue, jobId: string): Promise<ToolCallResult> {
  await waitFor(async () => (await queue.getJob(jobId))?.returnvalue != null, { timeoutMs: 5_000, message: `${jobId} slept on` });
  return (await queue.getJob(jobId))!.returnvalue;
}

describe('a call taken back while it parks', () => {
  it('for a lock: wakes at once and leaves its line, answered cancelled, instead of sleeping to its park alarm', async () => {
    const worker = startWorker({ events: new CancelledWhileParkingForLock({ redis, spaces, ttlSeconds: 60, logger }) });
    try {
      const startedAt = Date.now();
      const siblings = await enqueue(worker.queue, 'task-lock', [
        { id: 'holder', ms: HOLD_MS },
        { id: 'parked', ms: 10 },
      ]);

      expect(await answerOf(worker.queue, 'task-lock-parked')).toMatchObject({ ok: false, error: { code: 'cancelled' } });
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      // It stood in the account's line behind the holder; taken back, it left it: only the holder is there, still holding.
      const [line] = (await redis.keys(`${prefix}:lock:q:*acct`)) as [string];
      expect(await redis.zrange(line, '0', '-1')).toEqual([siblings[0]]);
      expect((await worker.queue.getJob('task-lock-holder'))!.returnvalue).toBeNull();
    } finally {
      await worker.close();
    }
  }, 30_000);

  it('for approval: wakes at once and leaves its line, answered cancelled, instead of sleeping to its park alarm', async () => {
    const worker = startWorker({ approvals: new CancelledWhileParkingForApproval({ redis, spaces }) });
    try {
      const startedAt = Date.now();
      const [ticket] = await enqueue(worker.queue, 'task-approval', [{ id: 'parked', ms: 10 }]);

      expect(await answerOf(worker.queue, 'task-approval-parked')).toMatchObject({ ok: false, error: { code: 'cancelled' } });
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      // It entered the account's line before it parked (so later conflicting calls wait behind it), and left it.
      const [line] = (await redis.keys(`${prefix}:lock:q:*acct`)) as [string];
      expect(await redis.zrange(line, '0', '-1')).not.toContain(ticket);
    } finally {
      await worker.close();
    }
  }, 30_000);
});
