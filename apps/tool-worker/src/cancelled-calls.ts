import { cancelChannel, taskEndedKey, type Logger } from '@volley/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** Long enough to outlive the gap between a cancel and the cancelled call reaching a worker. */
const REMEMBER_MS = 10 * 60 * 1000;

const messageSchema = z.object({ jobs: z.array(z.string()).max(10_000) });

/**
 * The calls orchestrators cancelled. Heard on a pub/sub channel (the fast path: a call running
 * here is aborted at once, one that reaches a worker later is answered `cancelled` without
 * running), and, since a pub/sub message can be lost (a dropped subscriber connection hears
 * nothing until it resubscribes), found by polling the ended marks of the tasks whose calls run
 * here: a running call learns of its cancel within one poll interval whatever happened to the
 * message.
 */
export class CancelledCalls {
  private readonly ids = new Map<string, number>();
  /** Calls running here: job id → task id. */
  private readonly running = new Map<string, string>();

  has(jobId: string | undefined): boolean {
    return jobId !== undefined && this.ids.has(jobId);
  }

  add(jobIds: readonly string[]): void {
    const now = Date.now();
    for (const [id, at] of this.ids) if (now - at > REMEMBER_MS) this.ids.delete(id);
    for (const id of jobIds) this.ids.set(id, now);
  }

  /** While a call runs here, its task's ended mark is polled; the returned function stops that. */
  track(jobId: string, taskId: string): () => void {
    this.running.set(jobId, taskId);
    return () => this.running.delete(jobId);
  }

  /** Subscribes on its own connection (a subscribed connection can do nothing else). */
  async listen(subscriber: Redis, prefix: string, onCancel: (jobIds: string[]) => void, logger: Logger): Promise<void> {
    subscriber.on('message', (_channel: string, body: string) => {
      let parsed: z.infer<typeof messageSchema>;
      try {
        parsed = messageSchema.parse(JSON.parse(body));
      } catch {
        logger.warn('malformed cancel message ignored');
        return;
      }
      this.add(parsed.jobs);
      onCancel(parsed.jobs);
    });
    await subscriber.subscribe(cancelChannel(prefix));
  }

  /**
   * Every `intervalMs`, one round trip reads the ended marks of the tasks with calls running
   * here; their calls are cancelled. Returns a function that stops polling.
   */
  poll(redis: Redis, prefix: string, intervalMs: number, onCancel: (jobIds: string[]) => void, logger: Logger): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.running.size === 0) return;
      busy = true;
      const calls = [...this.running];
      const tasks = [...new Set(calls.map(([, taskId]) => taskId))];
      const pipeline = redis.pipeline();
      for (const taskId of tasks) pipeline.exists(taskEndedKey(prefix, taskId));
      pipeline
        .exec()
        .then((replies) => {
          const ended = new Set(tasks.filter((_, index) => replies?.[index]?.[1] === 1));
          const jobIds = calls.filter(([jobId, taskId]) => ended.has(taskId) && !this.has(jobId)).map(([jobId]) => jobId);
          if (jobIds.length === 0) return;
          this.add(jobIds);
          onCancel(jobIds);
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'cancel poll failed'))
        .finally(() => {
          busy = false;
        });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
