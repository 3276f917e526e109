import { randomBytes } from 'node:crypto';
import { FlowProducer, QueueEvents, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { BARE_CHILD_QUEUE, BARE_PARENT_QUEUES, BARE_PREFIX, type BareCallData } from './bare-queues.ts';

/**
 * How the bench learns that a flow's parent finished:
 * - `worker-event`: the parent's Worker runs in this process, so its 'completed' event is a
 *   direct signal with no extra Redis traffic. This is the floor the queue itself sets.
 * - `queue-events`: `job.waitUntilFinished(queueEvents)`, as Volley's `POST /v1/tool-calls`
 *   waits, because there any orchestrator may process the parent: one more hop through the
 *   events stream (XREAD) and a state check.
 */
export type BareCompletion = keyof typeof BARE_PARENT_QUEUES;

type Waiter = { resolve: (values: Record<string, unknown>) => void; reject: (error: Error) => void };

/**
 * A bare BullMQ fan-out with no Volley code: one FlowProducer.add of a parent and N children
 * (the children run in `bare-worker.ts` processes), the parent processed here by a Worker
 * that only reads its children's values, as any fan-in must.
 */
export class BareFlow {
  readonly completion: BareCompletion;
  private readonly parentQueue: string;
  private readonly connections: Redis[];
  private readonly flows: FlowProducer;
  private readonly parents: Worker;
  private readonly events: QueueEvents | undefined;
  private readonly waiters = new Map<string, Waiter>();
  // Ids are ours, as Volley's are, and known before the add: no race with the completion.
  private readonly tag = randomBytes(4).toString('hex');
  private sequence = 0;

  private constructor(redisUrl: string, options: { concurrency: number; completion: BareCompletion }) {
    const connect = (): Redis => new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.completion = options.completion;
    this.parentQueue = BARE_PARENT_QUEUES[options.completion];
    this.connections = [connect(), connect()];
    this.flows = new FlowProducer({ connection: this.connections[0]!, prefix: BARE_PREFIX });
    this.parents = new Worker(this.parentQueue, (job: Job) => job.getChildrenValues(), {
      connection: this.connections[1]!,
      prefix: BARE_PREFIX,
      concurrency: options.concurrency,
    });
    this.parents.on('completed', (job, values: Record<string, unknown>) => this.settle(job.id, (waiter) => waiter.resolve(values)));
    this.parents.on('failed', (job, error) => this.settle(job?.id, (waiter) => waiter.reject(error)));
    this.parents.on('error', (error) => process.stderr.write(`bare parent worker error: ${error.message}\n`));
    if (options.completion === 'queue-events') {
      const connection = connect();
      this.connections.push(connection);
      this.events = new QueueEvents(this.parentQueue, { connection, prefix: BARE_PREFIX });
    }
  }

  static async start(redisUrl: string, options: { concurrency: number; completion: BareCompletion }): Promise<BareFlow> {
    const flow = new BareFlow(redisUrl, options);
    await Promise.all([flow.parents.waitUntilReady(), flow.flows.waitUntilReady(), flow.events?.waitUntilReady()]);
    return flow;
  }

  /** One fan-out: resolves with the children's values, keyed by job key as BullMQ returns them. */
  async run(calls: readonly BareCallData[]): Promise<Record<string, unknown>> {
    this.sequence += 1;
    const id = `${this.tag}-${this.sequence}`;
    const direct =
      this.completion === 'worker-event' ? new Promise<Record<string, unknown>>((resolve, reject) => this.waiters.set(id, { resolve, reject })) : undefined;
    const node = await this.flows.add({
      name: 'fan-in',
      queueName: this.parentQueue,
      data: {},
      opts: { jobId: id, removeOnComplete: true },
      children: calls.map((call, index) => ({
        name: call.name,
        queueName: BARE_CHILD_QUEUE,
        data: call,
        opts: { jobId: `${id}-c${index}`, removeOnComplete: true },
      })),
    });
    return direct ?? (node.job.waitUntilFinished(this.events!, 60_000) as Promise<Record<string, unknown>>);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.parents.close(), this.flows.close(), this.events?.close()]);
    await Promise.allSettled(this.connections.map((connection) => connection.quit()));
    for (const waiter of this.waiters.values()) waiter.reject(new Error('bare flow closed'));
    this.waiters.clear();
  }

  private settle(id: string | undefined, action: (waiter: Waiter) => void): void {
    const waiter = id === undefined ? undefined : this.waiters.get(id);
    if (!waiter) return;
    this.waiters.delete(id!);
    action(waiter);
  }
}
