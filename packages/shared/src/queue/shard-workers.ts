import { Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import type { KeySpaces } from './key-spaces.ts';

/**
 * The BullMQ Workers of one queue name across the shards (one Worker per shard: a Worker reads
 * one prefix), holding to one concurrency budget together, so `concurrency` still bounds the
 * jobs this process runs at once.
 *
 * BullMQ bounds each Worker alone. So each Worker's concurrency follows what the others take
 * (`concurrency` minus their running jobs, at least one so none stops fetching), and a job one
 * fetches while the budget is spent waits for a slot before it runs: at most one such job per
 * other shard. One shard is one Worker with the whole budget, as without shards.
 */
export class ShardWorkers<D = unknown, R = unknown> {
  readonly workers: readonly Worker<D, R>[];
  private readonly budget: number;
  private readonly taken: number[];
  private takenTotal = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(spaces: KeySpaces, queueName: string, processor: Processor<D, R>, options: Omit<WorkerOptions, 'prefix'> & { concurrency: number }) {
    this.budget = options.concurrency;
    this.taken = spaces.shards.map(() => 0);
    this.workers =
      spaces.shards.length === 1
        ? [new Worker<D, R>(queueName, processor, { ...options, prefix: spaces.home })]
        : spaces.shards.map(
            (prefix, index) =>
              new Worker<D, R>(queueName, (job: Job<D, R>, token?: string, signal?: AbortSignal) => this.within(index, () => processor(job, token, signal)), {
                ...options,
                prefix,
              }),
          );
  }

  private async within<T>(shard: number, run: () => Promise<T>): Promise<T> {
    this.take(shard);
    try {
      if (this.takenTotal > this.budget) await new Promise<void>((resolve) => this.waiting.push(resolve));
      return await run();
    } finally {
      this.give(shard);
    }
  }

  private take(shard: number): void {
    this.taken[shard]!++;
    this.takenTotal++;
    this.rebalance();
  }

  private give(shard: number): void {
    this.taken[shard]!--;
    this.takenTotal--;
    // The slot goes to a fetched job that waits for one, if any.
    this.waiting.shift()?.();
    this.rebalance();
  }

  private rebalance(): void {
    this.workers.forEach((worker, index) => {
      worker.concurrency = Math.max(1, this.budget - this.takenTotal + this.taken[index]!);
    });
  }

  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'failed', listener: (job: Job<D, R> | undefined, error: Error) => void): this;
  on(event: 'error' | 'failed', listener: (...args: never[]) => void): this {
    for (const worker of this.workers) worker.on(event, listener as never);
    return this;
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  async close(force = false): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close(force)));
  }
}
