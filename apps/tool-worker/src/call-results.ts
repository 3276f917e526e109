import { callResultKey, toolCallResultSchema, type ToolCallResult } from '@volley/shared';
import type { Redis } from 'ioredis';
import type { Claim } from './locks/resource-claims.ts';
import type { ResourceLocks } from './locks/resource-locks.ts';

/** Recorded results outlive any redelivery of their call. */
const RESULT_TTL_SECONDS = 24 * 3600;

/**
 * Results of side-effecting calls, recorded under the call's idempotency key before its job
 * completes, so a redelivered call is answered from the record instead of running again.
 */
export class CallResults {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(deps: { redis: Redis; prefix: string }) {
    this.redis = deps.redis;
    this.prefix = deps.prefix;
  }

  private key(idempotencyKey: string): string {
    return callResultKey(this.prefix, idempotencyKey);
  }

  async get(idempotencyKey: string): Promise<ToolCallResult | undefined> {
    const body = await this.redis.get(this.key(idempotencyKey));
    if (body === null) return undefined;
    const parsed = toolCallResultSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Records the result only while the run still holds its locks (one step in Redis): a run that
   * lost them was taken over by a redelivery of its call, and a stale run's answer (a refused
   * write, `lock_lost`) must not become the call's. Returns whether it was recorded.
   */
  putWhileHolding(
    idempotencyKey: string,
    result: ToolCallResult,
    locks: ResourceLocks,
    held: { ticket: string; holder: string; claims: readonly Claim[] },
  ): Promise<boolean> {
    return locks.setWhileHolding(held.ticket, held.holder, held.claims, this.key(idempotencyKey), JSON.stringify(result), RESULT_TTL_SECONDS);
  }
}
