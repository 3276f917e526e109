import type { ResourceClaim } from '@volley/tools';

export type LockMode = 'r' | 'w';
/** One resource a call locks; `key` is the lock's own key (see `lockKey`). */
export interface Claim {
  key: string;
  mode: LockMode;
}

export const MAX_CLAIMS_PER_CALL = 64;
const MAX_KEY_LENGTH = 512;

/**
 * Lock keys starting with '@' are Volley's own: `@<tenant>/<key>` is a tenant's key, and
 * `@@…` keys are Volley's internal claims. Tools may not declare such keys, and tenant names
 * (letters, digits, '_', '.', '-') hold no '/', so no two declarations share a lock key.
 */
const OWN = '@';

/**
 * The lock key of a declared key: the tenant's own (`@<tenant>/<key>`), unless the tool
 * declared it shared across tenants or the call has no tenant (auth is off: one tenant, whose
 * keys are the shared ones).
 */
export function lockKey(key: string, tenant: string | null, shared = false): string {
  return shared || tenant === null ? key : `${OWN}${tenant}/${key}`;
}

/** The key the tool declared, from a lock key; undefined for Volley's internal claims. */
export function declaredKey(key: string): string | undefined {
  if (!key.startsWith(OWN)) return key;
  if (key.startsWith(`${OWN}${OWN}`)) return undefined;
  return key.slice(key.indexOf('/') + 1);
}

/** The claim that makes a sequential message's calls run one at a time. */
export function sequenceClaim(group: string): Claim {
  return { key: `${OWN}${OWN}sequence:${group}`, mode: 'w' };
}

/**
 * A call's declared resources as lock claims: one per lock key (a write wins over a read of
 * the same key), scoped to `tenant` unless declared `shared`, sorted by lock key so every call
 * lists them in one global order.
 */
export function normalizeClaims(declared: readonly ResourceClaim[], tenant: string | null = null): Claim[] {
  if (!Array.isArray(declared)) throw new TypeError('resources(args) must return an array');
  const byKey = new Map<string, LockMode>();
  for (const claim of declared) {
    const key = typeof claim === 'string' ? claim : claim?.key;
    const mode = typeof claim === 'string' ? 'write' : claim?.mode;
    const shared = typeof claim === 'string' ? false : (claim?.shared ?? false);
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new TypeError(`a resource key must be a string of 1 to ${MAX_KEY_LENGTH} characters, got ${JSON.stringify(key)}`);
    }
    if (key.startsWith(OWN)) throw new TypeError(`resource keys starting with "${OWN}" are reserved, got ${JSON.stringify(key)}`);
    if (mode !== 'read' && mode !== 'write') throw new TypeError(`resource mode must be "read" or "write", got ${JSON.stringify(mode)}`);
    if (typeof shared !== 'boolean') throw new TypeError(`resource "shared" must be a boolean, got ${JSON.stringify(shared)}`);
    const scoped = lockKey(key, tenant, shared);
    if (byKey.get(scoped) !== 'w') byKey.set(scoped, mode === 'write' ? 'w' : 'r');
  }
  if (byKey.size > MAX_CLAIMS_PER_CALL) throw new TypeError(`a call may claim at most ${MAX_CLAIMS_PER_CALL} resources`);
  return [...byKey].map(([key, mode]) => ({ key, mode })).sort(compareClaims);
}

/** By UTF-16 code unit: the one global order of claims. */
export function compareClaims(a: Claim, b: Claim): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
