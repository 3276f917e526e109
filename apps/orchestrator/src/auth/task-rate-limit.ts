import type { Redis } from 'ioredis';

/**
 * A token bucket per tenant, in Redis so every orchestrator instance draws from the same one.
 * The bucket holds up to `perMinute` tokens and refills continuously at `perMinute` a minute;
 * a submission takes one. Chosen over a fixed window (which lets 2× the limit through around a
 * window's edge) and a sliding log (one sorted-set entry per submission): the bucket is two
 * numbers per tenant, exact, allows a burst up to the limit after a quiet spell, and tells a
 * refused client precisely when the next token is due. The clock is Redis's own (`TIME`), so
 * instances with skewed clocks agree; the key expires once the bucket would be full again.
 *
 * KEYS[1] bucket; ARGV[1] capacity (tokens); ARGV[2] refill period (ms to refill all of them).
 * Returns {allowed (1|0), ms until a token is free, tokens left (floored), ms until the bucket is full}.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local rate = capacity / period
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
if tokens < 1 then
  return {0, math.ceil((1 - tokens) / rate), 0, math.ceil((capacity - tokens) / rate)}
end
tokens = tokens - 1
local full = math.ceil((capacity - tokens) / rate)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], full)
return {1, 0, math.floor(tokens), full}
`;

type ScriptedRedis = Redis & { volleyTakeToken(key: string, capacity: number, periodMs: number): Promise<[number, number, number, number]> };

/**
 * What a take found, besides whether it got a token: the bucket's size, the whole tokens left in
 * it, and how long until it is full again (what a client that stops now waits to have all of
 * `limit` back), by Redis's clock.
 */
export type RateDecision = { limit: number; remaining: number; resetMs: number } & ({ allowed: true } | { allowed: false; retryAfterMs: number });

const PERIOD_MS = 60_000;
/** The bucket of requests without a tenant (auth off); tenant names cannot start with '~'. */
const ANONYMOUS = '~anonymous';

export class TaskRateLimit {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  readonly perMinute: number;

  constructor(deps: { redis: Redis; prefix: string; perMinute: number }) {
    if (!Number.isInteger(deps.perMinute) || deps.perMinute < 1) throw new RangeError('perMinute must be a positive integer');
    const redis = deps.redis as ScriptedRedis;
    if (typeof redis.volleyTakeToken !== 'function') redis.defineCommand('volleyTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.redis = redis;
    this.prefix = deps.prefix;
    this.perMinute = deps.perMinute;
  }

  /** Takes a token from the tenant's bucket (null: the anonymous bucket), if one is there. */
  async take(tenant: string | null): Promise<RateDecision> {
    const key = `${this.prefix}:rate:tasks:${tenant ?? ANONYMOUS}`;
    const [allowed, waitMs, remaining, resetMs] = await this.redis.volleyTakeToken(key, this.perMinute, PERIOD_MS);
    const bucket = { limit: this.perMinute, remaining, resetMs };
    return allowed === 1 ? { ...bucket, allowed: true } : { ...bucket, allowed: false, retryAfterMs: waitMs };
  }
}
