import { Redis, type RedisOptions } from 'ioredis';

/**
 * A Redis connection for BullMQ and Volley's own keys. `maxRetriesPerRequest: null` is what
 * BullMQ workers require: commands wait for a reconnect instead of failing.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, ...options });
}
