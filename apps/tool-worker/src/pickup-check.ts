import { taskEndedKey, taskGatheredKey, toolCallResultSchema, type KeySpaces, type ToolCallJobData, type ToolCallResult } from '@volley/shared';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';

/** What a worker must know before it runs a call it just picked up (or that was just woken). */
export type Pickup =
  /** Run it (`ended`: its task has ended, so it is answered `cancelled` and leaves its lines). */
  | { kind: 'run'; ended: boolean }
  /** It ran before and its fan-in holds its result: answer that result again, run nothing. */
  | { kind: 'gathered'; result: ToolCallResult }
  /** Its turn was gathered, or its fan-in is over and gone: nobody waits for it, and it must not run. */
  | { kind: 'orphaned' };

/**
 * Checks, in one round trip, the durable facts that make a call not run: its task's ended mark
 * (the cancel message may have been lost), and its turn gathered or its fan-in already holding
 * its result or gone (a step that ran twice re-created a call that had finished and been removed).
 */
export class PickupCheck {
  private readonly redis: Redis;
  private readonly spaces: KeySpaces;

  constructor(deps: { redis: Redis; spaces: KeySpaces }) {
    this.redis = deps.redis;
    this.spaces = deps.spaces;
  }

  async check(job: Job, data: ToolCallJobData): Promise<Pickup> {
    // The task's marks and the call's fan-in share the call's shard: one slot, one round trip.
    const prefix = this.spaces.of(data.taskId);
    const pipeline = this.redis.pipeline().exists(taskEndedKey(prefix, data.taskId)).get(taskGatheredKey(prefix, data.taskId));
    if (job.parentKey) pipeline.exists(job.parentKey).hget(`${job.parentKey}:processed`, `${job.queueQualifiedName}:${job.id}`);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const [ended, gathered, parentExists, processed] = replies.map(([, value]) => value);
    if (job.parentKey) {
      if (typeof processed === 'string') {
        const recorded = toolCallResultSchema.safeParse(JSON.parse(processed));
        if (recorded.success) return { kind: 'gathered', result: recorded.data };
      }
      if (parentExists === 0) return { kind: 'orphaned' };
    }
    if (data.turn !== undefined && gathered !== null && Number(gathered) >= data.turn) return { kind: 'orphaned' };
    return { kind: 'run', ended: ended === 1 };
  }
}
