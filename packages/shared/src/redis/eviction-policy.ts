import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

/** The one policy under which Redis never drops a key to make room: BullMQ's jobs and locks are keys. */
export const REQUIRED_POLICY = 'noeviction';

/** One Redis server's `maxmemory-policy`, or why it could not be read. */
export type EvictionPolicyReading = { node: string; policy: string } | { node: string; policy: undefined; problem: string };

/**
 * Reads `maxmemory-policy` from the Redis behind `redis`, or from every master of a Redis
 * Cluster (each master holds its own setting, and any of them may hold Volley's slot later).
 * `CONFIG GET` first; managed Redis often disables or renames `CONFIG`, so `INFO memory`
 * (whose `maxmemory_policy` line BullMQ reads too) is the fallback. A server that answers
 * neither is a reading without a policy, never an error: the caller decides what that means.
 */
export async function readEvictionPolicies(redis: Redis): Promise<EvictionPolicyReading[]> {
  const servers = redis.isCluster ? (redis as unknown as Cluster).nodes('master') : [redis];
  return Promise.all(servers.map(readPolicy));
}

async function readPolicy(server: Redis): Promise<EvictionPolicyReading> {
  const node = `${server.options.host ?? 'localhost'}:${server.options.port ?? 6379}`;
  const problems: string[] = [];
  try {
    const reply = await server.config('GET', 'maxmemory-policy');
    const policy = policyOfConfigReply(reply);
    if (policy !== undefined) return { node, policy };
    problems.push('CONFIG GET maxmemory-policy answered nothing');
  } catch (error) {
    problems.push(`CONFIG GET refused (${firstLine(error)})`);
  }
  try {
    const policy = /^maxmemory_policy:(\S+)/m.exec(await server.info('memory'))?.[1];
    if (policy !== undefined) return { node, policy };
    problems.push('INFO memory has no maxmemory_policy');
  } catch (error) {
    problems.push(`INFO refused (${firstLine(error)})`);
  }
  return { node, policy: undefined, problem: problems.join('; ') };
}

/** RESP2 answers `[name, value]`; RESP3 a map, which ioredis may hand over as an object. */
function policyOfConfigReply(reply: unknown): string | undefined {
  if (Array.isArray(reply)) return typeof reply[1] === 'string' ? reply[1] : undefined;
  if (reply !== null && typeof reply === 'object') {
    const value = (reply as Record<string, unknown>)['maxmemory-policy'];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n', 1)[0] ?? '';
}

export type EvictionPolicyVerdict = { ok: true } | { ok: false; kind: 'evicting' | 'unknown'; message: string; nodes: EvictionPolicyReading[] };

const HOW_TO_SET = `set maxmemory-policy ${REQUIRED_POLICY} (redis.conf, CONFIG SET maxmemory-policy ${REQUIRED_POLICY}, or your provider's parameter group)`;

/**
 * What the readings mean for Volley, in one sentence an operator can act on. A server known to
 * evict outweighs one that could not be read, since that is the certain problem.
 */
export function evictionPolicyVerdict(readings: readonly EvictionPolicyReading[], strict: boolean): EvictionPolicyVerdict {
  const evicting = readings.filter((reading) => reading.policy !== undefined && reading.policy !== REQUIRED_POLICY);
  const unknown = readings.filter((reading) => reading.policy === undefined);
  if (evicting.length > 0) {
    const found = evicting.map((reading) => `${reading.policy} on ${reading.node}`).join(', ');
    const message = strict
      ? `refusing to start: Redis maxmemory-policy is ${found}, and VOLLEY_REQUIRE_NOEVICTION=true requires ${REQUIRED_POLICY}; ` +
        `${HOW_TO_SET}, or unset VOLLEY_REQUIRE_NOEVICTION to start with a warning`
      : `Redis maxmemory-policy is ${found}, not ${REQUIRED_POLICY}: when memory runs out Redis may evict BullMQ's jobs and locks, ` +
        `and tasks are lost or run twice; ${HOW_TO_SET} (VOLLEY_REQUIRE_NOEVICTION=true refuses to start instead)`;
    return { ok: false, kind: 'evicting', message, nodes: evicting };
  }
  if (unknown.length > 0) {
    const why = unknown.map((reading) => `${reading.node}: ${reading.problem}`).join('; ');
    const message = strict
      ? `refusing to start: Redis maxmemory-policy could not be checked (${why}), and VOLLEY_REQUIRE_NOEVICTION=true requires it to be ` +
        `${REQUIRED_POLICY}; allow this connection CONFIG GET or INFO, or check the policy yourself and unset VOLLEY_REQUIRE_NOEVICTION`
      : `Redis maxmemory-policy could not be checked (${why}): BullMQ needs ${REQUIRED_POLICY}, make sure your Redis uses it`;
    return { ok: false, kind: 'unknown', message, nodes: unknown };
  }
  return { ok: true };
}

/**
 * For `main.ts`, once Redis answers: says nothing when every server is `noeviction`; otherwise
 * one warning, or with `strict` a fatal line (and stderr) and exit 1.
 */
export async function checkEvictionPolicyOrExit(redis: Redis, logger: Logger, options: { strict: boolean }): Promise<void> {
  const verdict = evictionPolicyVerdict(await readEvictionPolicies(redis), options.strict);
  if (verdict.ok) return;
  const fields = { redis_nodes: verdict.nodes, required_policy: REQUIRED_POLICY };
  if (!options.strict) {
    logger.warn(fields, verdict.message);
    return;
  }
  logger.fatal(fields, verdict.message);
  process.stderr.write(`${verdict.message}\n`);
  redis.disconnect();
  process.exit(1);
}
