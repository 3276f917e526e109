import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

/**
 * Redis error codes (the first word of its error replies) that no reconnect will cure: the
 * credentials in `REDIS_URL` are wrong or missing.
 */
const CREDENTIAL_REFUSALS = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM']);

export function isCredentialRefusal(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return CREDENTIAL_REFUSALS.has(message.split(' ', 1)[0] ?? '');
}

export class RedisCredentialsError extends Error {
  constructor(cause: Error) {
    const code = cause.message.split(' ', 1)[0];
    super(
      `Redis refused the credentials in REDIS_URL (${code}): set the password as redis://:<password>@host:port ` +
        `(or redis://<user>:<password>@… for an ACL user) and check it matches the server's`,
      { cause },
    );
    this.name = 'RedisCredentialsError';
  }
}

/**
 * Resolves once Redis answers PING. A Redis that is down is waited for (ioredis reconnects and
 * each failed attempt is logged by the caller's `error` listener); a Redis that refuses the
 * credentials rejects at once with a RedisCredentialsError, since retrying cannot help.
 */
export function waitForRedis(redis: Redis): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      if (!isCredentialRefusal(error)) return;
      redis.off('error', onError);
      reject(new RedisCredentialsError(error));
    };
    redis.on('error', onError);
    redis.ping().then(
      () => {
        redis.off('error', onError);
        resolve();
      },
      (error: Error) => {
        redis.off('error', onError);
        reject(isCredentialRefusal(error) ? new RedisCredentialsError(error) : error);
      },
    );
  });
}

/** For `main.ts`: wait for Redis, or log why it cannot be used and exit 1. */
export async function waitForRedisOrExit(redis: Redis, logger: Logger): Promise<void> {
  try {
    await waitForRedis(redis);
  } catch (error) {
    logger.fatal({ err: error }, (error as Error).message);
    process.stderr.write(`${(error as Error).message}\n`);
    redis.disconnect();
    process.exit(1);
  }
}
