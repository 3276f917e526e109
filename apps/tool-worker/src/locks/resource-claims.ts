import type { ResourceClaim } from '@volley/shared';

export type LockMode = 'r' | 'w';
export interface Claim {
  key: string;
  mode: LockMode;
}

export const MAX_CLAIMS_PER_CALL = 64;
const MAX_KEY_LENGTH = 512;

/**
 * A call's declared resources as lock claims: one per key (a write wins over a read of the
 * same key), sorted by key so every call lists them in one global order.
 */
export function normalizeClaims(declared: readonly ResourceClaim[]): Claim[] {
  if (!Array.isArray(declared)) throw new TypeError('resources(args) must return an array');
  const byKey = new Map<string, LockMode>();
  for (const claim of declared) {
    const key = typeof claim === 'string' ? claim : claim?.key;
    const mode = typeof claim === 'string' ? 'write' : claim?.mode;
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new TypeError(`a resource key must be a string of 1 to ${MAX_KEY_LENGTH} characters, got ${JSON.stringify(key)}`);
    }
    if (mode !== 'read' && mode !== 'write') throw new TypeError(`resource mode must be "read" or "write", got ${JSON.stringify(mode)}`);
    if (byKey.get(key) !== 'w') byKey.set(key, mode === 'write' ? 'w' : 'r');
  }
  if (byKey.size > MAX_CLAIMS_PER_CALL) throw new TypeError(`a call may claim at most ${MAX_CLAIMS_PER_CALL} resources`);
  return [...byKey].map(([key, mode]) => ({ key, mode })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
