import { Queue } from 'bullmq';
import { ticketJob } from '@volley/shared';
import type { Redis } from 'ioredis';

/**
 * Wakes parked calls: a call waiting for a resource is a delayed job (it holds no worker slot),
 * and whoever frees the resource promotes it. Promoting a job that is not delayed (it is still
 * on its way to parking, or already running) fails harmlessly: the parking side re-checks after
 * it parks, so no wake-up is lost.
 */
export class JobWaker {
  private readonly connection: Redis;
  /** By qualified name: a ticket names its queue in its own shard. */
  private readonly queues = new Map<string, Queue>();

  constructor(deps: { connection: Redis }) {
    this.connection = deps.connection;
  }

  async wake(tickets: readonly string[]): Promise<void> {
    await Promise.all(
      tickets.map(async (ticket) => {
        const { prefix, queueName, jobId } = ticketJob(ticket);
        await this.queue(prefix, queueName)
          .backend.promote(jobId)
          .catch(() => undefined);
      }),
    );
  }

  private queue(prefix: string, name: string): Queue {
    let queue = this.queues.get(`${prefix}:${name}`);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix });
      this.queues.set(`${prefix}:${name}`, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((queue) => queue.close()));
  }
}
