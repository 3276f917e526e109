import { ticketJob } from '@volley/shared';
import type { Redis } from 'ioredis';

/** 1 while the job exists and has not finished; one key, so on Redis Cluster it runs in the job's slot. */
const ALIVE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'finishedOn') == 1 then return 0 end
return 1
`;

type LivenessRedis = Redis & { volleyJobAlive(jobKey: string): Promise<number> };

/**
 * Whether the jobs of lock tickets are over. Lock lines live in the home key space and a call's
 * job in its task's shard, so no lock script can look at the job itself (see lock-scripts.ts);
 * this is the look, one round trip per ticket to the job's own node, made only when a ticket
 * stands in a call's way or is about to be woken.
 */
export class JobLiveness {
  private readonly redis: LivenessRedis;

  constructor(redis: Redis) {
    const scripted = redis as LivenessRedis;
    if (typeof scripted.volleyJobAlive !== 'function') scripted.defineCommand('volleyJobAlive', { numberOfKeys: 1, lua: ALIVE_SCRIPT });
    this.redis = scripted;
  }

  /** The tickets (of those given) whose jobs are gone or finished. */
  async over(tickets: readonly string[]): Promise<string[]> {
    const alive = await Promise.all(tickets.map((ticket) => this.redis.volleyJobAlive(ticketJob(ticket).jobKey)));
    return tickets.filter((_, index) => alive[index] === 0);
  }
}
