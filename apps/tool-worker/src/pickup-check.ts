import { taskEndedKey, taskGatheredKey, TickBatches, toolCallResultSchema, type ToolCallJobData, type ToolCallResult } from '@volley/shared';
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
 * Any number of checks, four keys and two arguments each. KEYS: ended mark, gathered mark, the
 * fan-in job, its processed hash; ARGV: the call's field in that hash, '1' when the call has a
 * fan-in (else its KEYS 3 and 4 only stand in, in the same slot). Returns, per check in order,
 * {ended, gathered or false, fan-in exists, recorded result or false}.
 */
const CHECK_SCRIPT = `
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local k, a = i * 4, i * 2
  local parent = ARGV[a + 2] == '1'
  out[#out + 1] = redis.call('EXISTS', KEYS[k + 1])
  out[#out + 1] = redis.call('GET', KEYS[k + 2])
  out[#out + 1] = parent and redis.call('EXISTS', KEYS[k + 3]) or 1
  out[#out + 1] = parent and redis.call('HGET', KEYS[k + 4], ARGV[a + 1]) or false
end
return out
`;

type CheckReply = [isEnded: number, gathered: string | null, parentExists: number, processed: string | null];

type CheckingRedis = Redis & { volleyPickupChecks(numberOfKeys: number, ...keysThenArgs: string[]): Promise<Array<number | string | null>> };

interface Check {
  keys: [string, string, string, string];
  args: [string, string];
}

/**
 * Checks, before a call runs, the durable facts that make it not run: its task's ended mark
 * (the cancel message may have been lost), and its turn gathered or its fan-in already holding
 * its result or gone (a step that ran twice re-created a call that had finished and been removed).
 *
 * The checks of every call picked up in one tick of the event loop go out together, one script
 * per key space (see `TickBatches`).
 */
export class PickupCheck {
  private readonly batches: TickBatches<Check, CheckReply>;

  constructor(deps: { redis: Redis }) {
    const redis = deps.redis as CheckingRedis;
    if (typeof redis.volleyPickupChecks !== 'function') redis.defineCommand('volleyPickupChecks', { lua: CHECK_SCRIPT });
    this.batches = new TickBatches(async (_prefix, checks) => {
      const keys = checks.flatMap((check) => check.keys);
      const reply = await redis.volleyPickupChecks(keys.length, ...keys, ...checks.flatMap((check) => check.args));
      return checks.map((_, index) => reply.slice(index * 4, index * 4 + 4) as CheckReply);
    });
  }

  async check(job: Job, data: ToolCallJobData): Promise<Pickup> {
    // The task's marks and the call's fan-in share the call's shard (the job's prefix): one slot.
    const prefix = job.prefix;
    const ended = taskEndedKey(prefix, data.taskId);
    const [isEnded, gathered, parentExists, processed] = await this.batches.add(prefix, {
      keys: [ended, taskGatheredKey(prefix, data.taskId), job.parentKey ?? ended, job.parentKey ? `${job.parentKey}:processed` : ended],
      args: [`${job.queueQualifiedName}:${job.id}`, job.parentKey ? '1' : '0'],
    });
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
