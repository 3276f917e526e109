import { cancelChannel, taskEndedKey, type KeySpaces, type Logger } from '@volley/shared';
import { ToolError } from '@volley/tools';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** Long enough to outlive the gap between a cancel and the cancelled call reaching a worker. */
const REMEMBER_MS = 10 * 60 * 1000;

const messageSchema = z.object({ jobs: z.array(z.string()).max(10_000) });

/** A call running here, with the signal its cancel fires. */
interface RunningCall {
  taskId: string;
  controller: AbortController;
}

/**
 * The calls orchestrators cancelled. Heard on a pub/sub channel (the fast path: a call running
 * here is aborted at once, one that reaches a worker later is answered `cancelled` without
 * running), and, since a pub/sub message can be lost (a dropped subscriber connection hears
 * nothing until it resubscribes), found by polling the ended marks of the tasks whose calls run
 * here: a running call learns of its cancel within one poll interval whatever happened to the
 * message. Each running call gets a signal of its own here rather than relying on BullMQ's
 * `cancelJob`: a call that parks and is woken at once runs again while its parked run is still
 * being untracked, and BullMQ's untrack of the old run drops the new run's controller.
 */
export class CancelledCalls {
  private readonly ids = new Map<string, number>();
  /** Calls running here, by job id. */
  private readonly running = new Map<string, RunningCall>();

  has(jobId: string | undefined): boolean {
    return jobId !== undefined && this.ids.has(jobId);
  }

  /** Remembers the calls as cancelled and fires the signals of those running here. */
  add(jobIds: readonly string[]): void {
    const now = Date.now();
    for (const [id, at] of this.ids) if (now - at > REMEMBER_MS) this.ids.delete(id);
    for (const id of jobIds) {
      this.ids.set(id, now);
      this.running.get(id)?.controller.abort(new ToolError('the call was cancelled with its task', { code: 'cancelled' }));
    }
  }

  /**
   * While a call runs here, its task's ended mark is polled and `signal` fires on its cancel;
   * `stop` ends that (only for this run: a later run of the same job keeps its own).
   */
  track(jobId: string, taskId: string): { signal: AbortSignal; stop(): void } {
    const call: RunningCall = { taskId, controller: new AbortController() };
    this.running.set(jobId, call);
    return {
      signal: call.controller.signal,
      stop: () => {
        if (this.running.get(jobId) === call) this.running.delete(jobId);
      },
    };
  }

  /** Subscribes on its own connection (a subscribed connection can do nothing else). */
  async listen(subscriber: Redis, prefix: string, logger: Logger): Promise<void> {
    subscriber.on('message', (_channel: string, body: string) => {
      let parsed: z.infer<typeof messageSchema>;
      try {
        parsed = messageSchema.parse(JSON.parse(body));
      } catch {
        logger.warn('malformed cancel message ignored');
        return;
      }
      this.add(parsed.jobs);
    });
    await subscriber.subscribe(cancelChannel(prefix));
  }

  /**
   * Every `intervalMs`, one round trip per shard reads the ended marks of the tasks with calls
   * running here; their calls are cancelled. Returns a function that stops polling.
   */
  poll(redis: Redis, spaces: KeySpaces, intervalMs: number, logger: Logger): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.running.size === 0) return;
      busy = true;
      const calls = [...this.running].map(([jobId, call]): [string, string] => [jobId, call.taskId]);
      const tasks = [...new Set(calls.map(([, taskId]) => taskId))];
      // A pipeline on Redis Cluster must stay in one slot: one per shard.
      const byShard = Map.groupBy(tasks, (taskId) => spaces.of(taskId));
      Promise.all(
        [...byShard].map(async ([prefix, ofShard]) => {
          const pipeline = redis.pipeline();
          for (const taskId of ofShard) pipeline.exists(taskEndedKey(prefix, taskId));
          const replies = (await pipeline.exec()) ?? [];
          return ofShard.filter((_, index) => replies[index]?.[1] === 1);
        }),
      )
        .then((endedByShard) => {
          const ended = new Set(endedByShard.flat());
          const jobIds = calls.filter(([jobId, taskId]) => ended.has(taskId) && !this.has(jobId)).map(([jobId]) => jobId);
          if (jobIds.length > 0) this.add(jobIds);
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
