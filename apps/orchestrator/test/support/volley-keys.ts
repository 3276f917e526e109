import type { Redis } from 'ioredis';

/**
 * Volley's own keys in Redis, for tests that check its bookkeeping stays bounded: every key is
 * either deleted when its work ends, or carries a TTL, or is one of a fixed set of singletons.
 */

/**
 * Keys that live as long as the deployment, one per deployment or per queue, whatever the work:
 * a TTL-less key matching none of these is bookkeeping that grows with the work done.
 */
export const SINGLETONS: ReadonlyArray<{ pattern: RegExp; what: string }> = [
  { pattern: /^(turns|tools-[A-Za-z0-9_-]+):meta$/, what: "BullMQ queue's options and version" },
  { pattern: /^(turns|tools-[A-Za-z0-9_-]+):id$/, what: "BullMQ queue's job-id counter" },
  { pattern: /^(turns|tools-[A-Za-z0-9_-]+):events$/, what: "BullMQ queue's event stream (capped)" },
  { pattern: /^(turns|tools-[A-Za-z0-9_-]+):marker$/, what: 'BullMQ queue\'s "jobs may be ready" marker' },
  { pattern: /^registry:workers$/, what: 'live workers by lease end' },
  { pattern: /^registry:pools$/, what: 'pools ever served' },
  { pattern: /^lock:seq$/, what: 'the global ticket sequence of resource lines' },
];

/**
 * Domain data a tool keeps under Volley's prefix, not Volley's bookkeeping: the built-in ledger
 * (`ledger_append`) is an example tool's own store, whose entries, balance, fence and
 * idempotency records are the effects a test checks; they must outlive the calls that made them.
 */
export const TOOL_DATA = /^ledger:/;

/** Every key under `prefix:` that has no TTL (PTTL -1), sorted, without the prefix's `prefix:`. */
export async function keysWithoutTtl(redis: Redis, prefix = 'volley'): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.pttl(key);
    const ttls = (await pipeline.exec()) ?? [];
    keys.forEach((key, index) => {
      if (ttls[index]?.[1] === -1) found.push(key.slice(prefix.length + 1));
    });
  } while (cursor !== '0');
  return [...new Set(found)].sort();
}

/** Every key under `prefix:` matching `pattern` (a glob after the prefix, e.g. `lock:q:*`). */
export async function keysMatching(redis: Redis, pattern: string, prefix = 'volley'): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:${pattern}`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) found.add(key);
  } while (cursor !== '0');
  return [...found].sort();
}

export const isSingleton = (key: string) => SINGLETONS.some(({ pattern }) => pattern.test(key));

/**
 * The family a key belongs to: its name with the parts that vary with the work (uuids, job and
 * fan-out ids, numbers, resource names after `lock:<kind>:`) replaced by `*`, so a growing
 * family reads as one line.
 */
export function keyFamily(key: string): string {
  const lock = /^(lock:[a-z]+):(sequence:)?/.exec(key);
  if (lock) return `${lock[1]}:${lock[2] ?? ''}*`;
  return key
    .replace(/tc-[0-9a-f-]{36}/g, '*')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[A-Za-z0-9-]*/g, '*')
    .replace(/\b\d+\b/g, '*');
}

/** Keys grouped by family, with how many each holds and one example. */
export function families(keys: readonly string[]): Array<{ family: string; count: number; example: string }> {
  const byFamily = new Map<string, { family: string; count: number; example: string }>();
  for (const key of keys) {
    const family = keyFamily(key);
    const entry = byFamily.get(family) ?? { family, count: 0, example: key };
    entry.count += 1;
    byFamily.set(family, entry);
  }
  return [...byFamily.values()].sort((a, b) => a.family.localeCompare(b.family));
}
