import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BARE_DRAIN_QUEUE, BARE_PREFIX } from './bare-queues.ts';
import { noop } from './tool-functions.ts';
import { nowMs } from './stats.ts';

export interface DrainResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
}

const ADD_CHUNK = 1_000;

/**
 * The queue's own ceiling: plain no-op jobs (no flow, no parent) put on a queue first, then
 * drained by one Worker with `concurrency` slots. Only the drain is timed.
 */
export async function measureDrain(redisUrl: string, options: { jobs: number; concurrency: number }): Promise<DrainResult> {
  const connections = [0, 1].map(() => new Redis(redisUrl, { maxRetriesPerRequest: null }));
  const queue = new Queue(BARE_DRAIN_QUEUE, { connection: connections[0]!, prefix: BARE_PREFIX });
  const worker = new Worker(BARE_DRAIN_QUEUE, async () => noop(), {
    connection: connections[1]!,
    prefix: BARE_PREFIX,
    concurrency: options.concurrency,
    autorun: false,
  });
  try {
    for (let added = 0; added < options.jobs; added += ADD_CHUNK) {
      const count = Math.min(ADD_CHUNK, options.jobs - added);
      await queue.addBulk(Array.from({ length: count }, () => ({ name: 'noop', data: {}, opts: { removeOnComplete: true } })));
    }
    let completed = 0;
    const done = new Promise<void>((resolve) => {
      worker.on('completed', () => {
        completed += 1;
        if (completed === options.jobs) resolve();
      });
    });
    const started = nowMs();
    void worker.run();
    await done;
    const seconds = (nowMs() - started) / 1000;
    return { jobs: options.jobs, seconds, jobsPerSecond: options.jobs / seconds };
  } finally {
    await Promise.allSettled([worker.close(), queue.close()]);
    await Promise.allSettled(connections.map((connection) => connection.quit()));
  }
}
