import type { KeySpaces } from '@volley/shared';
import type { Redis } from 'ioredis';

/** What the event routes need beyond the request side's store. */
export interface EventStreamDeps {
  /**
   * A new connection for one blocking reader (an SSE stream, a `wait_ms` wait), closed by the
   * route when it is done: a blocking read must never run on request handling's connection.
   */
  blockingRedis: () => Redis;
  spaces: KeySpaces;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  heartbeatMs: number;
  /** The longest one blocking read waits before the reader looks around again. Default 5 000. */
  blockMs?: number;
}

/** Runs `work` on a blocking connection of its own, which is dropped when `signal` aborts or the work ends. */
export async function withBlockingRedis<T>(deps: EventStreamDeps, signal: AbortSignal, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = deps.blockingRedis();
  const drop = () => redis.disconnect();
  signal.addEventListener('abort', drop, { once: true });
  try {
    return await work(redis);
  } finally {
    signal.removeEventListener('abort', drop);
    redis.disconnect();
  }
}
