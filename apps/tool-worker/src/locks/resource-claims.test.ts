import type { ResourceClaim } from '@volley/tools';
import { describe, expect, it } from 'vitest';
import { declaredKey, lockKey, MAX_CLAIMS_PER_CALL, normalizeClaims, sequenceClaim } from './resource-claims.ts';

describe('normalizeClaims', () => {
  describe('when a claim is a bare string', () => {
    it('claims the key for writing', () => {
      expect(normalizeClaims(['record:7'])).toEqual([{ key: 'record:7', mode: 'w' }]);
    });
  });

  describe('when a claim is an object', () => {
    it('keeps its mode', () => {
      expect(
        normalizeClaims([
          { key: 'doc:1', mode: 'read' },
          { key: 'doc:2', mode: 'write' },
        ]),
      ).toEqual([
        { key: 'doc:1', mode: 'r' },
        { key: 'doc:2', mode: 'w' },
      ]);
    });
  });

  describe('when a key is claimed twice', () => {
    it('keeps one claim, for writing, whichever comes first', () => {
      expect(
        normalizeClaims([
          { key: 'k', mode: 'read' },
          { key: 'k', mode: 'write' },
        ]),
      ).toEqual([{ key: 'k', mode: 'w' }]);
      expect(normalizeClaims(['k', { key: 'k', mode: 'read' }])).toEqual([{ key: 'k', mode: 'w' }]);
    });

    it('keeps a read when both claims read', () => {
      expect(
        normalizeClaims([
          { key: 'k', mode: 'read' },
          { key: 'k', mode: 'read' },
        ]),
      ).toEqual([{ key: 'k', mode: 'r' }]);
    });

    it('counts the key once toward the limit', () => {
      const keys = Array.from({ length: MAX_CLAIMS_PER_CALL }, (_, index) => `key:${index}`);
      expect(normalizeClaims([...keys, keys[0]!])).toHaveLength(MAX_CLAIMS_PER_CALL);
    });
  });

  describe('when claims come in any order', () => {
    it('sorts them by key, by UTF-16 code unit', () => {
      const claims = normalizeClaims(['b', { key: 'a', mode: 'read' }, 'B', 'a:1']).map((claim) => claim.key);
      expect(claims).toEqual(['B', 'a', 'a:1', 'b']);
    });
  });

  describe('when the call acts for a tenant', () => {
    it("scopes every key to the tenant, so two tenants' keys are two resources", () => {
      expect(normalizeClaims(['record:7', { key: 'doc:1', mode: 'read' }], 'acme')).toEqual([
        { key: '@acme/doc:1', mode: 'r' },
        { key: '@acme/record:7', mode: 'w' },
      ]);
      expect(normalizeClaims(['record:7'], 'globex')).not.toEqual(normalizeClaims(['record:7'], 'acme'));
    });

    it('leaves a key declared shared as it is, one resource for every tenant', () => {
      expect(normalizeClaims([{ key: 'printer', mode: 'write', shared: true }], 'acme')).toEqual([{ key: 'printer', mode: 'w' }]);
      expect(normalizeClaims([{ key: 'k', mode: 'read', shared: true }, 'k'], 'acme')).toEqual([
        { key: '@acme/k', mode: 'w' },
        { key: 'k', mode: 'r' },
      ]);
    });

    it("gives the declared key back from the lock key, and none for Volley's own claims", () => {
      expect(declaredKey(lockKey('a/b:7', 'acme'))).toBe('a/b:7');
      expect(declaredKey(lockKey('a/b:7', null))).toBe('a/b:7');
      expect(declaredKey(lockKey('x', 'acme', true))).toBe('x');
      expect(declaredKey(sequenceClaim('task-1-t0').key)).toBeUndefined();
    });
  });

  describe('when the call has no tenant (auth is off)', () => {
    it('uses the keys as declared: the shared ones', () => {
      expect(normalizeClaims(['record:7', { key: 'p', mode: 'write', shared: true }])).toEqual([
        { key: 'p', mode: 'w' },
        { key: 'record:7', mode: 'w' },
      ]);
    });
  });

  describe("when a key starts with '@'", () => {
    it("rejects it: such keys are Volley's own", () => {
      expect(() => normalizeClaims(['@acme/record:7'], 'globex')).toThrow(/reserved/);
      expect(() => normalizeClaims([{ key: '@@sequence:x', mode: 'write', shared: true }])).toThrow(/reserved/);
    });
  });

  describe('when there are no claims', () => {
    it('returns none', () => {
      expect(normalizeClaims([])).toEqual([]);
    });
  });

  describe('when a key is malformed', () => {
    it('rejects an empty key', () => {
      expect(() => normalizeClaims([''])).toThrow(TypeError);
      expect(() => normalizeClaims([{ key: '', mode: 'write' }])).toThrow(/1 to 512 characters/);
    });

    it('accepts 512 characters and rejects 513', () => {
      expect(normalizeClaims(['x'.repeat(512)])).toHaveLength(1);
      expect(() => normalizeClaims(['x'.repeat(513)])).toThrow(/1 to 512 characters/);
    });

    it('rejects a key that is not a string', () => {
      expect(() => normalizeClaims([{ key: 7, mode: 'write' } as unknown as ResourceClaim])).toThrow(TypeError);
      expect(() => normalizeClaims([null as unknown as ResourceClaim])).toThrow(TypeError);
    });
  });

  describe('when a mode is neither read nor write', () => {
    it('rejects it', () => {
      expect(() => normalizeClaims([{ key: 'k', mode: 'exclusive' } as unknown as ResourceClaim])).toThrow(/mode must be "read" or "write", got "exclusive"/);
      expect(() => normalizeClaims([{ key: 'k' } as unknown as ResourceClaim])).toThrow(TypeError);
    });
  });

  describe('when the declaration is not an array', () => {
    it('rejects it', () => {
      expect(() => normalizeClaims('record:7' as unknown as ResourceClaim[])).toThrow(/must return an array/);
      expect(() => normalizeClaims(undefined as unknown as ResourceClaim[])).toThrow(TypeError);
    });
  });

  describe('when a call claims more than the limit', () => {
    it('accepts 64 keys and rejects 65', () => {
      const keys = Array.from({ length: MAX_CLAIMS_PER_CALL + 1 }, (_, index) => `key:${index}`);
      expect(normalizeClaims(keys.slice(0, MAX_CLAIMS_PER_CALL))).toHaveLength(64);
      expect(() => normalizeClaims(keys)).toThrow(/at most 64 resources/);
    });
  });
});
