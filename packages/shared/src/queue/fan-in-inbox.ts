import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { TickBatches } from '../redis/tick-batches.ts';
import { jobLockKey } from './names.ts';
import type { ToolCallResult } from './tool-call-job.ts';

/**
 * The inbox of one orchestrator process in one key space: a Redis stream the process reads, to
 * which workers append the results of its bare fan-outs' calls. One per shard, so a call's
 * delivery and its job's lock are in one hash slot. Entries are `fan_in` (the fan-out id) and
 * `results` (a JSON array of results).
 */
export function fanInInboxKey(prefix: string, address: string): string {
  return `${prefix}:fan-in-inbox:${address}`;
}

export const FAN_IN_ENTRY = { fanOut: 'fan_in', results: 'results' } as const;

/** An inbox outlives any request waiting on it by far; it goes with its process (no reader refreshes it). */
const INBOX_TTL_MS = 3_600_000;
/** Entries kept per inbox: far beyond what one process reads behind on. */
const INBOX_MAX_ENTRIES = 10_000;

/**
 * Any number of deliveries to one inbox (KEYS[1]); KEYS[i + 1] is the i-th delivery's job lock.
 * ARGV: max entries, TTL, then per delivery its lock token ('' for a job that failed for good: it
 * holds no lock), fan-out id and results. A delivery is appended only while its run still holds
 * the job's lock: a run whose lock lapsed (its process paused) was handed to another worker, and
 * its answer, like BullMQ's refused completion of it, must not be the call's. Returns 1 or 0 each.
 */
const DELIVER_SCRIPT = `
local out = {}
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 3
  local token = ARGV[a]
  if token == '' or redis.call('GET', KEYS[i]) == token then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', '${FAN_IN_ENTRY.fanOut}', ARGV[a + 1], '${FAN_IN_ENTRY.results}', ARGV[a + 2])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return out
`;

type DeliveringRedis = Redis & { volleyDeliverFanIn(numberOfKeys: number, ...keysThenArgs: string[]): Promise<number[]> };

interface Delivery {
  lockKey: string;
  token: string;
  fanOut: string;
  results: string;
}

/**
 * How a bare fan-out's results reach the orchestrator whose request waits for them: the worker
 * that finishes a call appends its result to the inbox the call names (`reply_to`), before its
 * job completes, so a job that completed has delivered (a run that dies in between is run again
 * and delivers again; the reader keeps the first result per call). A bare fan-out so has no
 * parent job to fetch, lock, gather and complete (the bench measured a flow's parent at about
 * 30 % of a fan-out's CPU). Deliveries of one tick to one inbox go out as one script.
 */
export class FanInReplies {
  private readonly redis: DeliveringRedis;
  private readonly batches: TickBatches<Delivery, number>;

  constructor(deps: { redis: Redis }) {
    const redis = deps.redis as DeliveringRedis;
    if (typeof redis.volleyDeliverFanIn !== 'function') redis.defineCommand('volleyDeliverFanIn', { lua: DELIVER_SCRIPT });
    this.redis = redis;
    this.batches = new TickBatches((inbox, deliveries) =>
      this.redis.volleyDeliverFanIn(
        deliveries.length + 1,
        inbox,
        ...deliveries.map((delivery) => delivery.lockKey),
        String(INBOX_MAX_ENTRIES),
        String(INBOX_TTL_MS),
        ...deliveries.flatMap((delivery) => [delivery.token, delivery.fanOut, delivery.results]),
      ),
    );
  }

  /**
   * Appends a call's result to the inbox `replyTo` in the job's key space, while `token` still
   * holds the job's lock (undefined: the job failed for good and holds none). Whether it was.
   */
  async deliver(job: Job, token: string | undefined, replyTo: string, fanOut: string, result: ToolCallResult): Promise<boolean> {
    const delivered = await this.batches.add(fanInInboxKey(job.prefix, replyTo), {
      lockKey: jobLockKey(job),
      token: token ?? '',
      fanOut,
      results: JSON.stringify([result]),
    });
    return delivered === 1;
  }
}
