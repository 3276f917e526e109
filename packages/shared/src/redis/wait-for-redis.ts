import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

/**
 * Redis error codes (the first word of its error replies) that no reconnect will cure: the
 * credentials in `REDIS_URL` are wrong or missing.
 */
const CREDENTIAL_REFUSALS = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM']);

/** Node's codes for a TLS server certificate the client does not accept. */
const CERTIFICATE_REJECTIONS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Why Redis cannot be used with this `REDIS_URL` whatever the retries, or undefined for errors
 * a reconnect may cure (Redis down, a network blip). Never quotes the URL.
 */
export function redisAccessProblem(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const replyCode = error.message.split(' ', 1)[0] ?? '';
  if (CREDENTIAL_REFUSALS.has(replyCode)) {
    return (
      `Redis refused the credentials in REDIS_URL (${replyCode}): set the password as redis://:<password>@host:port ` +
      `(or redis://<user>:<password>@host:port for an ACL user) and check it matches the server's`
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && CERTIFICATE_REJECTIONS.has(code)) {
    return (
      `Redis's TLS certificate was rejected (${code}: ${error.message}): make its CA trusted ` +
      `(e.g. NODE_EXTRA_CA_CERTS=/path/to/ca.pem) and use the host name the certificate names in REDIS_URL`
    );
  }
  return undefined;
}

export class RedisAccessError extends Error {
  constructor(message: string, cause: Error) {
    super(message, { cause });
    this.name = 'RedisAccessError';
  }
}

/**
 * Resolves once Redis answers PING. A Redis that is down is waited for (ioredis reconnects;
 * `waitForRedisOrExit` logs each attempt); one that refuses the credentials or whose
 * certificate is rejected rejects at once with a RedisAccessError, since retrying cannot help.
 */
export function waitForRedis(redis: Redis): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error): boolean => {
      const problem = redisAccessProblem(error);
      if (problem === undefined) return false;
      redis.off('error', onError);
      reject(new RedisAccessError(problem, error));
      return true;
    };
    const onError = (error: Error) => void fail(error);
    redis.on('error', onError);
    redis.ping().then(
      () => {
        redis.off('error', onError);
        resolve();
      },
      (error: Error) => {
        if (fail(error)) return;
        redis.off('error', onError);
        reject(error);
      },
    );
  });
}

/** For `main.ts`: wait for Redis, or log why it cannot be used and exit 1. */
export async function waitForRedisOrExit(redis: Redis, logger: Logger): Promise<void> {
  // From now on for good: ioredis reconnects by itself, each failed attempt is worth a log line.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  try {
    await waitForRedis(redis);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error }, message);
    process.stderr.write(`${message}\n`);
    redis.disconnect();
    process.exit(1);
  }
}
