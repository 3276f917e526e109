import { FlowProducer, Queue, type Job, type JobsOptions } from 'bullmq';
import { toolQueueName, TURN_QUEUE, type KeySpaces } from '@volley/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { QueuedJob } from './withdraw-calls.ts';

export interface FlowChildJob {
  name: string;
  queueName: string;
  data: unknown;
  opts: JobsOptions & { jobId: string };
}

export interface FanInJob {
  name: string;
  jobId: string;
  data: unknown;
}

/** The turn-queue job that ends a task still running at its deadline. */
export const TASK_DEADLINE_JOB = 'task-deadline';

function taskDeadlineJobId(taskId: string): string {
  return `${taskId}-deadline`;
}

/** Keep finished jobs a day for inspection of failures; successes are gathered, then dropped. */
const KEEP_FAILED = { age: 24 * 3600 };

const queuedCallsSchema = z.array(z.object({ pool: z.string(), jobId: z.string() }));

/** Where a bare fan-out's calls are named while it runs, for a cancel from any instance. */
function fanOutCallsKey(prefix: string, fanOutId: string): string {
  return `${prefix}:fan-out:${fanOutId}:calls`;
}

/** The queues of one shard. */
class ShardQueues {
  readonly turns: Queue;
  readonly flows: FlowProducer;
  readonly toolQueues = new Map<string, Queue>();

  readonly connection: Redis;
  readonly prefix: string;

  constructor(connection: Redis, prefix: string) {
    this.connection = connection;
    this.prefix = prefix;
    this.turns = new Queue(TURN_QUEUE, { connection, prefix });
    this.flows = new FlowProducer({ connection, prefix });
    // Each add in flight listens for the producer closing; hundreds of concurrent fan-outs are
    // normal here, not a leak.
    this.flows.setMaxListeners(0);
  }

  toolQueue(pool: string): Queue {
    let queue = this.toolQueues.get(pool);
    if (!queue) {
      queue = new Queue(toolQueueName(pool), { connection: this.connection, prefix: this.prefix });
      this.toolQueues.set(pool, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.flows.close(), this.turns.close(), ...[...this.toolQueues.values()].map((queue) => queue.close())]);
  }
}

/**
 * Puts a fan-out on the queues: the calls as children of one fan-in job on the turn queue,
 * in one atomic flow. Children that fail do not block the parent: their failure is gathered
 * like any other result. A task's (or bare fan-out's) jobs go to the queues of its shard, named
 * by its id (`owner`), so each flow stays in one hash slot.
 */
export class FanOutQueue {
  readonly spaces: KeySpaces;
  private readonly shards: Map<string, ShardQueues>;

  constructor(deps: { connection: Redis; spaces: KeySpaces }) {
    this.spaces = deps.spaces;
    this.shards = new Map(deps.spaces.shards.map((prefix) => [prefix, new ShardQueues(deps.connection, prefix)]));
  }

  private shard(owner: string): ShardQueues {
    return this.shards.get(this.spaces.of(owner))!;
  }

  /** The turn queue of the owner's shard. */
  turnsOf(owner: string): Queue {
    return this.shard(owner).turns;
  }

  /** Every shard's turn queue. */
  allTurnQueues(): Queue[] {
    return [...this.shards.values()].map((shard) => shard.turns);
  }

  /** The queue of one pool in the owner's shard, for reading its jobs. */
  toolQueue(pool: string, owner: string): Queue {
    return this.shard(owner).toolQueue(pool);
  }

  /** The queue of one pool in every shard. */
  allToolQueues(pool: string): Queue[] {
    return [...this.shards.values()].map((shard) => shard.toolQueue(pool));
  }

  /**
   * The job that ends a task at its deadline, should it still run then (see `TASK_DEADLINE_JOB`).
   * A task that finishes first takes it back with `cancelDeadline`.
   */
  async scheduleDeadline(taskId: string, at: number): Promise<void> {
    await this.turnsOf(taskId).add(
      TASK_DEADLINE_JOB,
      { taskId },
      { jobId: taskDeadlineJobId(taskId), delay: Math.max(0, at - Date.now()), removeOnComplete: true, removeOnFail: true },
    );
  }

  async cancelDeadline(taskId: string): Promise<void> {
    await this.turnsOf(taskId)
      .remove(taskDeadlineJobId(taskId))
      .catch(() => undefined);
  }

  /** Whether a job with this id is on the owner's turn queue (waiting, running, or kept after failing). */
  async hasTurnJob(owner: string, jobId: string): Promise<boolean> {
    const shard = this.shard(owner);
    return (await shard.connection.exists(`${shard.prefix}:${TURN_QUEUE}:${jobId}`)) === 1;
  }

  /**
   * The children name their queue by its plain name; they go to that queue in the owner's shard.
   * Ids are deterministic, so adding the same fan-out twice (a retried step) adds nothing.
   */
  async enqueue(owner: string, parent: FanInJob, children: readonly FlowChildJob[]): Promise<Job> {
    const shard = this.shard(owner);
    const parentOpts = {
      jobId: parent.jobId,
      removeOnComplete: true,
      removeOnFail: KEEP_FAILED,
      // Retries cover transient faults of the step itself (Redis hiccups); the model and
      // tools have their own retry policies.
      attempts: 3,
      backoff: { type: 'exponential', delay: 500 },
    };
    if (children.length === 0) return shard.turns.add(parent.name, parent.data, parentOpts);
    const node = await shard.flows.add({
      name: parent.name,
      queueName: TURN_QUEUE,
      data: parent.data,
      opts: parentOpts,
      children: children.map((child) => ({
        ...child,
        opts: { ...child.opts, ignoreDependencyOnFailure: true, removeOnComplete: true, removeOnFail: KEEP_FAILED },
      })),
    });
    return node.job;
  }

  /**
   * Puts a bare fan-out's calls on their queues, in one atomic add, with no parent job: each call
   * delivers its own result to the request's inbox (see `FanInReplies`). The calls are named
   * under the fan-out's id until `untilMs` has passed, for `queuedCalls`.
   */
  async enqueueCalls(fanOutId: string, calls: readonly FlowChildJob[], named: readonly QueuedJob[], untilMs: number): Promise<void> {
    const shard = this.shard(fanOutId);
    await Promise.all([
      shard.connection.set(fanOutCallsKey(shard.prefix, fanOutId), JSON.stringify(named), 'PX', Math.max(1, untilMs - Date.now())),
      shard.flows.addBulk(calls.map((call) => ({ ...call, opts: { ...call.opts, removeOnComplete: true, removeOnFail: KEEP_FAILED } }))),
    ]);
  }

  /** The calls of a bare fan-out that is still running (none once it is past its deadline). */
  async queuedCalls(fanOutId: string): Promise<QueuedJob[]> {
    const shard = this.shard(fanOutId);
    const named = await shard.connection.get(fanOutCallsKey(shard.prefix, fanOutId));
    const parsed = queuedCallsSchema.safeParse(named === null ? [] : JSON.parse(named));
    return parsed.success ? parsed.data : [];
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.shards.values()].map((shard) => shard.close()));
  }
}
