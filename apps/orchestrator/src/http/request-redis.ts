import { createRedis, type RedisTarget } from '@volley/shared';
import type { Redis, RedisOptions } from 'ioredis';

/**
 * The Redis connection of request handling: every command it sends answers or fails within
 * `commandTimeoutMs`, so an HTTP request never waits for Redis longer than that (the engine's
 * connection, by contrast, waits an outage out so that no step is lost).
 *
 * - `commandTimeout`: ioredis arms it in `sendCommand` for every command, also one that waits in
 *   a queue (ioredis 6 `Redis.js`). A frozen Redis keeps the socket open and answers nothing, so
 *   no connection error ever comes: this timer is the only bound there is.
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of being
 *   queued. A queued command outlives its timeout (ioredis rejects the promise but still sends
 *   the command once connected), so a request already answered 503 would write minutes later.
 * - `autoResendUnfulfilledCommands: false`: the same for commands sent just before the
 *   connection dropped; `maxRetriesPerRequest: 0` fails them when it drops, not after retries.
 * - `skipVersionCheck`: BullMQ reads it off a shared connection's options. A `Queue` made on
 *   this connection (a pool's queue is made on first use, perhaps during an outage) would
 *   otherwise send `INFO` once at its start, and a timed-out `INFO` leaves that `Queue` failing
 *   every call for good (bullmq 6.7 `RedisConnection.init`). The engine's queues check the version.
 *
 * This connection is never handed to anything that blocks: BullMQ duplicates a connection it is
 * given for its blocking commands (`Worker`, `QueueEvents`), and a duplicate would inherit the
 * timeout, so those get the engine's connection (or one of their own) instead.
 */
export function createRequestRedis(target: RedisTarget, commandTimeoutMs: number): Redis {
  const options: RedisOptions & { skipVersionCheck: boolean } = {
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    skipVersionCheck: true,
  };
  // On a Cluster the nodes' offline queues are always on (ioredis forces it); the timeout bounds
  // them. The cluster client's own queue (before it is ready, while it refreshes slots) is off.
  return createRedis(target, options, { enableOfflineQueue: false });
}

/** Resolves once `redis` is ready (at start, when commands would fail until it connected). */
export function whenRedisReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => redis.once('ready', () => resolve()));
}
