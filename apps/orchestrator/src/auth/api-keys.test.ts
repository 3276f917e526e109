import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ApiKeyring, parseApiKeys } from './api-keys.ts';

const KEY_A = 'a'.repeat(16);
const KEY_B = 'sk-live:0123456789abcdef';

describe('parseApiKeys', () => {
  describe('when the text is comma-separated pairs', () => {
    it('reads each key and its tenant, the tenant after the last colon', () => {
      expect(parseApiKeys(` ${KEY_A}:acme , ${KEY_B}:globex,`)).toEqual({
        ok: true,
        entries: [
          { key: KEY_A, tenant: 'acme' },
          { key: KEY_B, tenant: 'globex' },
        ],
      });
    });

    it('lets two keys share a tenant', () => {
      const parsed = parseApiKeys(`${KEY_A}:acme,${'b'.repeat(20)}:acme`);
      expect(parsed.ok && parsed.entries.map((entry) => entry.tenant)).toEqual(['acme', 'acme']);
    });
  });

  describe('when the text is a file', () => {
    it('reads one pair a line or several, and skips comments and blank lines', () => {
      const file = ['# production keys', '', `${KEY_A}:acme   # rotated 2026-01`, `${KEY_B}:globex, ${'c'.repeat(32)}:initech`, ''].join('\n');
      const parsed = parseApiKeys(file);
      expect(parsed.ok && parsed.entries.map((entry) => entry.tenant)).toEqual(['acme', 'globex', 'initech']);
    });

    it('names problems by line', () => {
      expect(parseApiKeys(`# keys\n${KEY_A}:acme\nshort:acme\n`)).toEqual({
        ok: false,
        problems: ['line 3: the key of tenant acme is shorter than 16 characters'],
      });
    });
  });

  describe('when pairs are wrong', () => {
    it.each([
      ['a pair without a tenant', KEY_A, 'pair 1: expected key:tenant'],
      ['an empty tenant', `${KEY_A}:`, "pair 1: the tenant (after the last ':') must be"],
      ['a tenant with spaces', `${KEY_A}:the acme`, "pair 1: the tenant (after the last ':') must be"],
      ['a short key', 'tiny:acme', 'pair 1: the key of tenant acme is shorter than 16 characters'],
      ['a key with a space', `${KEY_A} x:acme`, 'pair 1: the key of tenant acme must be printable ASCII'],
      ['a key with non-ASCII', `${KEY_A}é:acme`, 'pair 1: the key of tenant acme must be printable ASCII'],
      ['nothing at all', ' , ', 'holds no key:tenant pair'],
    ])('reports %s', (_what, text, problem) => {
      const parsed = parseApiKeys(text);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.problems[0]).toContain(problem);
    });

    it('reports a key given twice, naming where it was first', () => {
      expect(parseApiKeys(`${KEY_A}:acme,${KEY_B}:globex,${KEY_A}:initech`)).toEqual({
        ok: false,
        problems: ['pair 3: the key of tenant initech repeats the key of pair 1'],
      });
    });

    it('reports every problem at once and never quotes a key', () => {
      const secret = 'secret-but-short';
      const parsed = parseApiKeys(`${secret.slice(0, 10)}:a, ${secret} spaced:b, ${secret}:bad tenant, ${secret}`);
      expect(!parsed.ok && parsed.problems).toHaveLength(4);
      expect(JSON.stringify(parsed)).not.toContain(secret.slice(0, 10));
    });
  });
});

describe('ApiKeyring', () => {
  const keyring = new ApiKeyring([
    { key: KEY_A, tenant: 'acme' },
    { key: KEY_B, tenant: 'globex' },
  ]);

  describe('when a known key is presented', () => {
    it('answers its tenant', () => {
      expect(keyring.tenantOf(KEY_A)).toBe('acme');
      expect(keyring.tenantOf(KEY_B)).toBe('globex');
    });
  });

  describe('when an unknown key is presented', () => {
    it.each([
      ['a different key', 'b'.repeat(16)],
      ['a prefix of a key', KEY_A.slice(0, 15)],
      ['a key with one more character', `${KEY_A}a`],
      ['a key in another case', KEY_B.toUpperCase()],
      ['the empty string', ''],
    ])('answers undefined for %s', (_what, presented) => {
      expect(keyring.tenantOf(presented)).toBeUndefined();
    });
  });

  it('keeps no key in its own state', () => {
    expect(inspect(keyring, { depth: 10, showHidden: true })).not.toContain(KEY_A);
    expect(keyring.size).toBe(2);
    expect([...keyring.tenants]).toEqual(['acme', 'globex']);
  });
});
