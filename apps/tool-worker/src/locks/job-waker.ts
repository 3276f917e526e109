import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Wakes parked calls: a call waiting for a resource is a delayed job (it holds no worker slot),
 * and whoever frees the resource promotes it. Promoting a job that is not delayed (it is still
 * on its way to parking, or already running) fails harmlessly: the parking side re-checks after
 * it parks, so no wake-up is lost.
 */
export class JobWaker {
  private readonly connection: Redis;
  private readonly prefix: string;
  private readonly queues = new Map<string, Queue>();

  constructor(deps: { connection: Redis; prefix: string }) {
    this.connection = deps.connection;
    this.prefix = deps.prefix;
  }

  async wake(tickets: readonly string[]): Promise<void> {
    await Promise.all(
      tickets.map(async (ticket) => {
        const bar = ticket.indexOf('|');
        const queue = this.queue(ticket.slice(0, bar));
        await queue.backend.promote(ticket.slice(bar + 1)).catch(() => undefined);
      }),
    );
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((queue) => queue.close()));
  }
}
