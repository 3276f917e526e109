import { taskEndedKey, taskGatheredKey, toolCallResultSchema, type ToolCallJobData, type ToolCallResult } from '@volley/shared';
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
 * KEYS: ended mark, gathered mark, the fan-in job, its processed hash; ARGV: the call's field in
 * that hash, '1' when the call has a fan-in (else KEYS 3 and 4 only stand in, in the same slot).
 * Returns {ended, gathered or false, fan-in exists, recorded result or false}.
 */
const CHECK_SCRIPT = `
local parent = ARGV[2] == '1'
return {
  redis.call('EXISTS', KEYS[1]),
  redis.call('GET', KEYS[2]),
  parent and redis.call('EXISTS', KEYS[3]) or 1,
  parent and redis.call('HGET', KEYS[4], ARGV[1]) or false,
}
`;

type CheckingRedis = Redis & {
  volleyPickupCheck(
    ended: string,
    gathered: string,
    parent: string,
    processed: string,
    field: string,
    hasParent: string,
  ): Promise<[number, string | null, number, string | null]>;
};

/**
 * Checks, in one command, the durable facts that make a call not run: its task's ended mark
 * (the cancel message may have been lost), and its turn gathered or its fan-in already holding
 * its result or gone (a step that ran twice re-created a call that had finished and been removed).
 * One script rather than a pipeline of four: on every call's path, the client's cost of four
 * commands was the worker's largest own cost (bench --profile).
 */
export class PickupCheck {
  private readonly redis: CheckingRedis;

  constructor(deps: { redis: Redis }) {
    const redis = deps.redis as CheckingRedis;
    if (typeof redis.volleyPickupCheck !== 'function') redis.defineCommand('volleyPickupCheck', { numberOfKeys: 4, lua: CHECK_SCRIPT });
    this.redis = redis;
  }

  async check(job: Job, data: ToolCallJobData): Promise<Pickup> {
    // The task's marks and the call's fan-in share the call's shard (the job's prefix): one slot.
    const prefix = job.prefix;
    const ended = taskEndedKey(prefix, data.taskId);
    const [isEnded, gathered, parentExists, processed] = await this.redis.volleyPickupCheck(
      ended,
      taskGatheredKey(prefix, data.taskId),
      job.parentKey ?? ended,
      job.parentKey ? `${job.parentKey}:processed` : ended,
      `${job.queueQualifiedName}:${job.id}`,
      job.parentKey ? '1' : '0',
    );
    if (job.parentKey) {
      if (typeof processed === 'string') {
        const recorded = toolCallResultSchema.safeParse(JSON.parse(processed));
        if (recorded.success) return { kind: 'gathered', result: recorded.data };
      }
      if (parentExists === 0) return { kind: 'orphaned' };
    }
    if (data.turn !== undefined && gathered !== null && Number(gathered) >= data.turn) return { kind: 'orphaned' };
    return { kind: 'run', ended: isEnded === 1 };
  }
}
