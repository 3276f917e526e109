import { FlowProducer, Queue, type Job, type JobsOptions } from 'bullmq';
import { toolQueueName, TURN_QUEUE } from '@volley/shared';
import type { Redis } from 'ioredis';

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

/**
 * Puts a fan-out on the queues: the calls as children of one fan-in job on the turn queue,
 * in one atomic flow. Children that fail do not block the parent: their failure is gathered
 * like any other result.
 */
export class FanOutQueue {
  readonly turns: Queue;
  readonly prefix: string;
  private readonly connection: Redis;
  private readonly flows: FlowProducer;
  private readonly toolQueues = new Map<string, Queue>();

  constructor(deps: { connection: Redis; prefix: string }) {
    this.connection = deps.connection;
    this.prefix = deps.prefix;
    this.turns = new Queue(TURN_QUEUE, { connection: deps.connection, prefix: deps.prefix });
    this.flows = new FlowProducer({ connection: deps.connection, prefix: deps.prefix });
    // Each add in flight listens for the producer closing; hundreds of concurrent fan-outs are
    // normal here, not a leak.
    this.flows.setMaxListeners(0);
  }

  /** The queue of one pool, for reading its jobs. */
  toolQueue(pool: string): Queue {
    let queue = this.toolQueues.get(pool);
    if (!queue) {
      queue = new Queue(toolQueueName(pool), { connection: this.connection, prefix: this.prefix });
      this.toolQueues.set(pool, queue);
    }
    return queue;
  }

  /**
   * The job that ends a task at its deadline, should it still run then (see `TASK_DEADLINE_JOB`).
   * A task that finishes first takes it back with `cancelDeadline`.
   */
  async scheduleDeadline(taskId: string, at: number): Promise<void> {
    await this.turns.add(
      TASK_DEADLINE_JOB,
      { taskId },
      { jobId: taskDeadlineJobId(taskId), delay: Math.max(0, at - Date.now()), removeOnComplete: true, removeOnFail: true },
    );
  }

  async cancelDeadline(taskId: string): Promise<void> {
    await this.turns.remove(taskDeadlineJobId(taskId)).catch(() => undefined);
  }

  /** Whether a job with this id is on the turn queue (waiting, running, or kept after failing). */
  async hasTurnJob(jobId: string): Promise<boolean> {
    return (await this.connection.exists(`${this.prefix}:${TURN_QUEUE}:${jobId}`)) === 1;
  }

  /** Ids are deterministic, so adding the same fan-out twice (a retried step) adds nothing. */
  async enqueue(parent: FanInJob, children: readonly FlowChildJob[]): Promise<Job> {
    const parentOpts = {
      jobId: parent.jobId,
      removeOnComplete: true,
      removeOnFail: KEEP_FAILED,
      // Retries cover transient faults of the step itself (Redis hiccups); the model and
      // tools have their own retry policies.
      attempts: 3,
      backoff: { type: 'exponential', delay: 500 },
    };
    if (children.length === 0) return this.turns.add(parent.name, parent.data, parentOpts);
    const node = await this.flows.add({
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

  async close(): Promise<void> {
    await Promise.allSettled([this.flows.close(), this.turns.close(), ...[...this.toolQueues.values()].map((queue) => queue.close())]);
  }
}
