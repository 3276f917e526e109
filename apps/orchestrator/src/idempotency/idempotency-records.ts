import type { Redis } from 'ioredis';

/** How long a key holds its answer: a retry within this gets the first request's outcome. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

/** Swaps the record for ARGV[2] only while it still holds ARGV[1] (an empty ARGV[2] deletes it). */
const SWAP_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return 1
`;

/** Deletes the record while it holds ARGV[1] and KEYS[2] (what the request was making) does not exist. */
const RELEASE_UNLESS_MADE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

type SwappingRedis = Redis & {
  volleyIdempotencySwap(key: string, expected: string, next: string, ttl: number): Promise<number>;
  volleyIdempotencyReleaseUnlessMade(key: string, made: string, expected: string): Promise<number>;
};

/**
 * The records behind `Idempotency-Key`: one string per (route, tenant, key), claimed with
 * `SET NX` before anything is created, so of two concurrent requests with one key exactly one
 * goes on; every write carries the 24 h TTL. Later changes compare the whole value first, so a
 * request only ever changes the claim it made.
 */
export class IdempotencyRecords {
  private readonly redis: SwappingRedis;

  constructor(redis: Redis) {
    const scripted = redis as SwappingRedis;
    if (typeof scripted.volleyIdempotencySwap !== 'function') {
      scripted.defineCommand('volleyIdempotencySwap', { numberOfKeys: 1, lua: SWAP_SCRIPT });
      scripted.defineCommand('volleyIdempotencyReleaseUnlessMade', { numberOfKeys: 2, lua: RELEASE_UNLESS_MADE_SCRIPT });
    }
    this.redis = scripted;
  }

  /** Whether this request claimed the key (it was free). */
  async claim(key: string, value: string): Promise<boolean> {
    return (await this.redis.set(key, value, 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX')) === 'OK';
  }

  read(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  /** Replaces `expected` by `next`; false when the record holds anything else now. */
  async swap(key: string, expected: string, next: string): Promise<boolean> {
    return (await this.redis.volleyIdempotencySwap(key, expected, next, IDEMPOTENCY_TTL_SECONDS)) === 1;
  }

  /** Gives the key back, if it still holds `expected`: a request that did nothing frees it. */
  async release(key: string, expected: string): Promise<void> {
    await this.redis.volleyIdempotencySwap(key, expected, '', IDEMPOTENCY_TTL_SECONDS);
  }

  /** Gives the key back, if it still holds `expected`, unless `made` (the key of what the request was creating) exists. */
  async releaseUnlessMade(key: string, expected: string, made: string): Promise<void> {
    await this.redis.volleyIdempotencyReleaseUnlessMade(key, made, expected);
  }

  /**
   * After a command of this request failed (Redis did not answer): gives the key back without
   * waiting. A frozen Redis runs the commands it was sent in order when it wakes, so this comes
   * after the claim (and after whatever `made` was written by), and the key is not left claimed by
   * a request that answered 503.
   */
  releaseAfterFailure(key: string, expected: string, made?: string): void {
    const release = made === undefined ? this.release(key, expected) : this.releaseUnlessMade(key, expected, made);
    release.catch(() => undefined);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polling pause: 25 ms, doubling to 250 ms. */
export const pollPause = (attempt: number) => Math.min(250, 25 * 2 ** attempt);
