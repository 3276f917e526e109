import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TENANT_NAME_PATTERN } from '@volley/shared';

/** One API key and the tenant it acts for. */
export interface ApiKeyEntry {
  key: string;
  tenant: string;
}

/** Shorter keys can be guessed; `openssl rand -hex 32` makes a good one. */
const MIN_KEY_LENGTH = 16;
/** Printable ASCII without spaces; ',' separates pairs and '#' starts a comment. */
const KEY_PATTERN = /^[\x21-\x7e]+$/;

export type ParsedApiKeys = { ok: true; entries: ApiKeyEntry[] } | { ok: false; problems: string[] };

/**
 * Parses `key:tenant` pairs, separated by commas or newlines; `#` starts a comment that runs to
 * the end of its line. The tenant follows the last ':' (a key may hold ':'). Problems name the
 * pair by position and never quote a key, since they end up in startup errors.
 */
export function parseApiKeys(text: string): ParsedApiKeys {
  const problems: string[] = [];
  const entries: ApiKeyEntry[] = [];
  const seen = new Map<string, string>();
  const multiline = text.includes('\n');
  const pairs = text
    .split(/\r?\n/)
    .flatMap((line, index) =>
      line
        .replace(/#.*$/, '')
        .split(',')
        .map((pair) => ({ pair: pair.trim(), line: index + 1 })),
    )
    .filter(({ pair }) => pair !== '');
  for (const [index, { pair, line }] of pairs.entries()) {
    const where = multiline ? `line ${line}` : `pair ${index + 1}`;
    const entry = parsePair(pair);
    if (typeof entry === 'string') {
      problems.push(`${where}: ${entry}`);
      continue;
    }
    const earlier = seen.get(entry.key);
    if (earlier !== undefined) {
      problems.push(`${where}: the key of tenant ${entry.tenant} repeats the key of ${earlier}`);
      continue;
    }
    seen.set(entry.key, where);
    entries.push(entry);
  }
  if (problems.length === 0 && entries.length === 0) problems.push('holds no key:tenant pair');
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries };
}

/** The entry, or what is wrong with the pair (without quoting the key). */
function parsePair(pair: string): ApiKeyEntry | string {
  const colon = pair.lastIndexOf(':');
  if (colon < 0) return 'expected key:tenant';
  const key = pair.slice(0, colon).trim();
  const tenant = pair.slice(colon + 1).trim();
  if (!TENANT_NAME_PATTERN.test(tenant)) {
    // Not quoted: when the tenant was forgotten, the text after the last ':' may be part of a key.
    return `the tenant (after the last ':') must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`;
  }
  if (!KEY_PATTERN.test(key)) return `the key of tenant ${tenant} must be printable ASCII without spaces`;
  if (key.length < MIN_KEY_LENGTH) return `the key of tenant ${tenant} is shorter than ${MIN_KEY_LENGTH} characters`;
  return { key, tenant };
}

/**
 * Finds the tenant of a presented key in constant time with respect to the keys' contents: every
 * key is known by its HMAC under a secret made at start, the lookup goes by that digest (whose
 * bytes an attacker cannot steer), and the match is confirmed with `timingSafeEqual`. The keys
 * themselves are not kept.
 */
export class ApiKeyring {
  private readonly secret = randomBytes(32);
  private readonly byDigest = new Map<string, { digest: Buffer; tenant: string }>();
  readonly tenants: ReadonlySet<string>;

  constructor(entries: readonly ApiKeyEntry[]) {
    for (const { key, tenant } of entries) {
      const digest = this.digest(key);
      this.byDigest.set(digest.toString('base64'), { digest, tenant });
    }
    this.tenants = new Set(entries.map((entry) => entry.tenant));
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** The tenant the key belongs to, or undefined for a key this keyring does not hold. */
  tenantOf(presented: string): string | undefined {
    const digest = this.digest(presented);
    const entry = this.byDigest.get(digest.toString('base64'));
    return entry && timingSafeEqual(entry.digest, digest) ? entry.tenant : undefined;
  }

  private digest(key: string): Buffer {
    return createHmac('sha256', this.secret).update(key, 'utf8').digest();
  }
}
