import { toolCallResultSchema, type ToolCallResult } from '@volley/shared';
import type { Redis } from 'ioredis';

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
    return `${this.prefix}:callresult:${idempotencyKey}`;
  }

  async get(idempotencyKey: string): Promise<ToolCallResult | undefined> {
    const body = await this.redis.get(this.key(idempotencyKey));
    if (body === null) return undefined;
    const parsed = toolCallResultSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  }

  async put(idempotencyKey: string, result: ToolCallResult): Promise<void> {
    await this.redis.set(this.key(idempotencyKey), JSON.stringify(result), 'EX', RESULT_TTL_SECONDS);
  }
}
