import { cancelChannel, type Logger } from '@volley/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** Long enough to outlive the gap between a cancel and the cancelled call reaching a worker. */
const REMEMBER_MS = 10 * 60 * 1000;

const messageSchema = z.object({ jobs: z.array(z.string()).max(10_000) });

/**
 * The calls orchestrators cancelled, heard on a pub/sub channel. A call that is running here is
 * aborted at once; one that reaches a worker later is answered `cancelled` without running.
 */
export class CancelledCalls {
  private readonly ids = new Map<string, number>();

  has(jobId: string | undefined): boolean {
    return jobId !== undefined && this.ids.has(jobId);
  }

  add(jobIds: readonly string[]): void {
    const now = Date.now();
    for (const [id, at] of this.ids) if (now - at > REMEMBER_MS) this.ids.delete(id);
    for (const id of jobIds) this.ids.set(id, now);
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
}
