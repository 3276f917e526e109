import { KeySpaces, taskEndedKey, taskGatheredKey, type ToolCallJobData, type ToolCallResult } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import { FlowProducer, Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PickupCheck } from '../src/pickup-check.ts';

let server: TestRedis;
let redis: Redis;
let spaces: KeySpaces;
const flows = new Map<string, FlowProducer>();

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  spaces = new KeySpaces('pickup-test', 2);
  for (const prefix of spaces.shards) flows.set(prefix, new FlowProducer({ connection: redis, prefix }));
});
afterAll(async () => {
  await Promise.all([...flows.values()].map((flow) => flow.close()));
  redis?.disconnect();
  await server?.stop();
});

let tasks = 0;

/** A real fan-in with `calls` children on a shard, as BullMQ holds it: the jobs a worker would pick up. */
async function fanOut(shard: string, calls: number, turn?: number): Promise<{ taskId: string; jobs: Job[]; data: ToolCallJobData[] }> {
  tasks += 1;
  // The check finds a call's keys by the job's prefix, whatever the task id hashes to.
  const taskId = `task-${tasks}`;
  const data = Array.from(
    { length: calls },
    (_, index): ToolCallJobData => ({
      taskId,
      toolCallId: `call_${index}`,
      name: 'probe',
      arguments: '{}',
      ...(turn === undefined ? {} : { turn }),
    }),
  );
  await flows.get(shard)!.add({
    name: 'fan-in',
    queueName: 'turns',
    opts: { jobId: taskId },
    children: data.map((call, index) => ({ name: 'probe', queueName: 'tools', data: call, opts: { jobId: `${taskId}-${index}` } })),
  });
  const queue = new Queue('tools', { connection: redis, prefix: shard });
  const jobs = await Promise.all(data.map((_, index) => Job.fromId(queue, `${taskId}-${index}`)));
  await queue.close();
  return { taskId, jobs: jobs.map((job) => job!), data };
}

async function scriptCalls(): Promise<number> {
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}

const recorded = (toolCallId: string): ToolCallResult => ({
  ok: true,
  content: 'done before',
  tool_call_id: toolCallId,
  started_at: 1,
  finished_at: 2,
  worker_id: 'w',
  attempts: 1,
});

describe('PickupCheck', () => {
  let check: PickupCheck;
  beforeAll(() => {
    check = new PickupCheck({ redis });
  });

  it('answers each call of a batch by its own facts', async () => {
    const [home, other] = spaces.shards as [string, string];
    const plain = await fanOut(home, 2);
    const ended = await fanOut(home, 1);
    const gathered = await fanOut(home, 1);
    const turnDone = await fanOut(other, 2, 3);
    const gone = await fanOut(other, 1);
    await redis.set(taskEndedKey(home, ended.taskId), JSON.stringify({ status: 'cancelled', at: 1 }));
    const gatheredJob = gathered.jobs[0]!;
    await redis.hset(`${gatheredJob.parentKey}:processed`, `${gatheredJob.queueQualifiedName}:${gatheredJob.id}`, JSON.stringify(recorded('call_0')));
    await redis.set(taskGatheredKey(other, turnDone.taskId), '3');
    await redis.del(gone.jobs[0]!.parentKey!);

    const all = [plain, ended, gathered, turnDone, gone];
    const answers = await Promise.all(all.map((fan) => Promise.all(fan.jobs.map((job, index) => check.check(job, fan.data[index]!)))));
    expect(answers).toEqual([
      [
        { kind: 'run', ended: false },
        { kind: 'run', ended: false },
      ],
      [{ kind: 'run', ended: true }],
      [{ kind: 'gathered', result: recorded('call_0') }],
      [{ kind: 'orphaned' }, { kind: 'orphaned' }],
      [{ kind: 'orphaned' }],
    ]);
  });

  it('sends the checks of one tick as one script per key space, in batches of at most 64', async () => {
    const [home, other] = spaces.shards as [string, string];
    const many = await fanOut(home, 70);
    const few = await fanOut(other, 3);
    const before = await scriptCalls();
    const answers = await Promise.all([...many.jobs, ...few.jobs].map((job, index) => check.check(job, [...many.data, ...few.data][index]!)));
    expect(answers.every((answer) => answer.kind === 'run' && !answer.ended)).toBe(true);
    // 70 checks in one key space → 2 scripts; 3 in the other → 1.
    expect((await scriptCalls()) - before).toBe(3);

    // Checks made in different ticks are not held back for each other.
    const one = await fanOut(home, 1);
    const afterBatch = await scriptCalls();
    await check.check(one.jobs[0]!, one.data[0]!);
    await check.check(one.jobs[0]!, one.data[0]!);
    expect((await scriptCalls()) - afterBatch).toBe(2);
  });

  it('fails every check of a batch whose script fails, and the next batch runs', async () => {
    const [home] = spaces.shards as [string];
    const broken = await fanOut(home, 2);
    const fine = await fanOut(home, 1);
    // GET on a hash fails the script: Redis's error reaches each check of that batch.
    await redis.hset(taskGatheredKey(home, broken.taskId), 'not', 'a string');
    const outcomes = await Promise.allSettled([...broken.jobs, ...fine.jobs].map((job, index) => check.check(job, [...broken.data, ...fine.data][index]!)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    await expect(check.check(fine.jobs[0]!, fine.data[0]!)).resolves.toEqual({ kind: 'run', ended: false });
  });
});
