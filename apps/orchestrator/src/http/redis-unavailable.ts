/**
 * Whether an error means Redis did not answer (or cannot now): the request gets 503
 * `redis_unavailable`, not 500. Looks through `cause` chains, since a wrapped error (a
 * VolleyError about a fan-out, say) may hold the Redis failure that caused it.
 *
 * ioredis gives its client-side failures no code, only fixed messages (`Command timed out`,
 * `Connection is closed.` …, ioredis 6 `Command.js`, `utils/index.js`, `Redis.js`), so this one
 * place matches them; everything else here is a code (errno, Redis's reply prefix, class name).
 */
export function isRedisUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (isUnavailableHere(current)) return true;
    current = current.cause;
  }
  return false;
}

/** ioredis's own messages for a command that never got an answer. */
const CLIENT_MESSAGES = new Set([
  'Command timed out',
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  "Cluster isn't ready and enableOfflineQueue options is false",
]);

/** ioredis error classes, by name (the classes are not exported from the package root). */
const CLIENT_ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'ConnectionClosedError']);

/** Socket errors a reconnect may cure. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Redis's replies (their first word) that say it cannot serve now: still loading its data, busy
 * in a script, a replica after a failover, a cluster without a master for the slot, out of memory.
 */
const REPLY_CODES = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'READONLY', 'OOM']);

function isUnavailableHere(error: Error): boolean {
  if (CLIENT_MESSAGES.has(error.message) || CLIENT_ERROR_NAMES.has(error.name)) return true;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  return error.name === 'ReplyError' && REPLY_CODES.has(error.message.split(' ', 1)[0] ?? '');
}
