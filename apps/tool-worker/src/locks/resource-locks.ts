import { lockPlanKey } from '@volley/shared';
import type { Redis } from 'ioredis';
import { JobLiveness } from './job-liveness.ts';
import { ACQUIRE_SCRIPT, DROP_SCRIPT, RECORD_SCRIPT, REGISTER_SCRIPT, RELEASE_SCRIPT, RENEW_SCRIPT } from './lock-scripts.ts';
import type { Claim } from './resource-claims.ts';

export interface LockPlanRef {
  group: string;
  rank: number;
  /** Tickets of the message's locking calls, in model order. */
  siblings: readonly string[];
}

export type Acquired =
  | { acquired: true; fences: number[] }
  /** `retryAfterMs`: the call's own earlier holder still has this long on its lease. */
  | { acquired: false; blockedBy: string; retryAfterMs?: number };

type ScriptedRedis = Redis & {
  volleyLockRegister(...args: (string | number)[]): Promise<[number, number, string?]>;
  volleyLockAcquire(...args: (string | number)[]): Promise<[number, ...(number | string)[]]>;
  volleyLockRenew(...args: (string | number)[]): Promise<number>;
  volleyLockRelease(...args: (string | number)[]): Promise<[string[], string[]]>;
  volleyLockRecord(...args: (string | number)[]): Promise<number>;
  volleyLockDrop(...args: (string | number)[]): Promise<[string[], string[]]>;
};

/** Plans outlive any message's fan-out by far; they only need to last while its calls run. */
const PLAN_TTL_MS = 24 * 3600 * 1000;

/** The Redis side of resource locks: see lock-scripts.ts for the model. */
export class ResourceLocks {
  private readonly redis: ScriptedRedis;
  private readonly liveness: JobLiveness;
  /** The lock space's: the home key space (see `KeySpaces`). */
  private readonly prefix: string;
  /**
   * The scripts build their keys from the prefix; one declared key of that prefix routes them to
   * the node that owns its hash slot on Redis Cluster (a hash-tagged prefix puts them all there).
   */
  private readonly routingKey: string;
  readonly leaseMs: number;

  constructor(deps: { redis: Redis; prefix: string; leaseMs: number }) {
    const redis = deps.redis as ScriptedRedis;
    if (typeof redis.volleyLockRegister !== 'function') {
      redis.defineCommand('volleyLockRegister', { numberOfKeys: 1, lua: REGISTER_SCRIPT });
      redis.defineCommand('volleyLockAcquire', { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
      redis.defineCommand('volleyLockRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
      redis.defineCommand('volleyLockRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
      redis.defineCommand('volleyLockRecord', { numberOfKeys: 1, lua: RECORD_SCRIPT });
      redis.defineCommand('volleyLockDrop', { numberOfKeys: 1, lua: DROP_SCRIPT });
    }
    this.liveness = new JobLiveness(redis);
    this.redis = redis;
    this.prefix = deps.prefix;
    this.routingKey = `${deps.prefix}:lock:seq`;
    this.leaseMs = deps.leaseMs;
  }

  /**
   * Declares one call's claims. `ready` once the whole message's tickets are in line;
   * `completedPlan` when this call's declaration was the last one (it wakes its siblings).
   */
  async register(plan: LockPlanRef, ticket: string, claims: readonly Claim[]): Promise<{ ready: boolean; completedPlan: boolean; registeredAt: number }> {
    const dead: string[] = [];
    for (;;) {
      const [state, registeredAt, undeclared] = await this.redis.volleyLockRegister(
        this.routingKey,
        this.prefix,
        lockPlanKey(this.prefix, plan.group),
        `${this.prefix}:lock:seq`,
        plan.rank,
        plan.siblings.length,
        ticket,
        JSON.stringify(claims.map((claim) => [claim.key, claim.mode])),
        Date.now(),
        JSON.stringify(plan.siblings),
        PLAN_TTL_MS,
        JSON.stringify(dead),
      );
      // A sibling whose job is over will never declare: it counts as claiming nothing.
      if (state === 0 && undeclared !== undefined && (await this.liveness.over([undeclared])).length === 1) {
        dead.push(undeclared);
        continue;
      }
      return { ready: state > 0, completedPlan: state === 2, registeredAt };
    }
  }

  /** `holder` names this acquisition (one run of the call): its renewals and release. */
  acquire(ticket: string, holder: string, claims: readonly Claim[]): Promise<Acquired> {
    return this.tryAcquire(ticket, holder, claims, false);
  }

  /** Whether `acquire` would succeed now, without taking anything. */
  async wouldAcquire(ticket: string, holder: string, claims: readonly Claim[]): Promise<boolean> {
    return (await this.tryAcquire(ticket, holder, claims, true)).acquired;
  }

  private async tryAcquire(ticket: string, holder: string, claims: readonly Claim[], probe: boolean): Promise<Acquired> {
    const dead: string[] = [];
    for (;;) {
      const [ok, ...rest] = await this.redis.volleyLockAcquire(
        this.routingKey,
        this.prefix,
        ticket,
        holder,
        Date.now(),
        this.leaseMs,
        probe ? '1' : '0',
        JSON.stringify(dead),
        ...claims.flatMap((claim) => [claim.key, claim.mode]),
      );
      if (ok === 1) return { acquired: true, fences: rest as number[] };
      const blockedBy = String(rest[0]);
      // Blocked by a ticket whose job is over: it leaves the line (unless it holds a lease), look again.
      if (blockedBy !== ticket && !dead.includes(blockedBy) && (await this.liveness.over([blockedBy])).length === 1) {
        dead.push(blockedBy);
        continue;
      }
      return { acquired: false, blockedBy, ...(rest[1] === undefined ? {} : { retryAfterMs: Number(rest[1]) }) };
    }
  }

  /** Sets `key` to `body` (for `ttlSeconds`) only while `holder` holds every claim; whether it did. */
  async setWhileHolding(ticket: string, holder: string, claims: readonly Claim[], key: string, body: string, ttlSeconds: number): Promise<boolean> {
    const set = await this.redis.volleyLockRecord(this.routingKey, this.prefix, ticket, holder, key, body, ttlSeconds, ...claims.map((c) => c.key));
    return set === 1;
  }

  async renew(ticket: string, holder: string, claims: readonly Claim[]): Promise<boolean> {
    const held = await this.redis.volleyLockRenew(this.routingKey, this.prefix, ticket, holder, Date.now() + this.leaseMs, ...claims.map((c) => c.key));
    return held === 1;
  }

  /**
   * Returns the tickets that may be able to run now. A holder that was taken over releases
   * nothing; `holder: '*'` releases whoever holds.
   */
  async release(ticket: string, holder: string, claims: readonly Claim[], options: { keepPlace: boolean }): Promise<string[]> {
    const keys = claims.map((c) => c.key);
    let [wake, stoppers] = await this.redis.volleyLockRelease(this.routingKey, this.prefix, ticket, holder, options.keepPlace ? '1' : '0', Date.now(), ...keys);
    // Waking a ticket whose job is over, or stopping at one, would leave whoever stands behind it
    // waiting for it: those found over leave, and who may run is read again.
    // A ticket found over that stays (it holds an unexpired lease) is not looked at again.
    const dead: string[] = [];
    const unchecked = () => [...wake, ...stoppers].filter((other) => !dead.includes(other));
    for (let over = await this.liveness.over(unchecked()); over.length > 0; over = await this.liveness.over(unchecked())) {
      dead.push(...over);
      [wake, stoppers] = await this.redis.volleyLockDrop(this.routingKey, this.prefix, ticket, Date.now(), JSON.stringify(dead), ...keys);
    }
    return wake;
  }
}
