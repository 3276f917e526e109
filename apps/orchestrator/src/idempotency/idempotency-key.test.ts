import { describe, expect, it } from 'vitest';
import { bodyFingerprint, idempotencyKeyOf, idempotencyRecordKey } from './idempotency-key.ts';

describe('idempotencyKeyOf', () => {
  describe('when the header is well formed', () => {
    it.each([
      ['a uuid', '0b6f9a52-2f7e-4c3e-9d1a-5a3c1e2b7f10'],
      ['one character', 'k'],
      ['255 characters', 'k'.repeat(255)],
      ['every visible ASCII character', Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)).join('')],
    ])('accepts %s', (_what, key) => {
      expect(idempotencyKeyOf({ 'idempotency-key': key })).toBe(key);
    });

    it('is absent when no header was sent', () => {
      expect(idempotencyKeyOf({})).toBeUndefined();
    });
  });

  describe('when the header is malformed', () => {
    it.each([
      ['empty', ''],
      ['256 characters', 'k'.repeat(256)],
      ['a space', 'a b'],
      ['a tab', 'a\tb'],
      ['non-ASCII', 'clé'],
      ['two headers joined by Node', 'a, b'],
    ])('refuses %s with invalid_idempotency_key', (_what, key) => {
      expect(() => idempotencyKeyOf({ 'idempotency-key': key })).toThrow(expect.objectContaining({ code: 'invalid_idempotency_key', status: 400 }));
    });
  });
});

describe('bodyFingerprint', () => {
  it('is the same for the same body with its keys in another order', () => {
    expect(bodyFingerprint({ a: 1, b: { c: [1, { d: 2, e: 3 }] } })).toBe(bodyFingerprint({ b: { c: [1, { e: 3, d: 2 }] }, a: 1 }));
  });

  it('differs when a value, an array order or a key differs', () => {
    const base = bodyFingerprint({ a: [1, 2], b: 'x' });
    expect(bodyFingerprint({ a: [2, 1], b: 'x' })).not.toBe(base);
    expect(bodyFingerprint({ a: [1, 2], b: 'y' })).not.toBe(base);
    expect(bodyFingerprint({ a: [1, 2], c: 'x' })).not.toBe(base);
    expect(bodyFingerprint({ a: [1, 2], b: 'x', c: null })).not.toBe(base);
  });
});

describe('idempotencyRecordKey', () => {
  it('keeps routes and tenants apart and never holds the key itself', () => {
    const keys = [
      idempotencyRecordKey('volley', 'tasks', 'acme', 'k1'),
      idempotencyRecordKey('volley', 'tasks', 'globex', 'k1'),
      idempotencyRecordKey('volley', 'tool-calls', 'acme', 'k1'),
      idempotencyRecordKey('volley', 'tasks', null, 'k1'),
    ];
    expect(new Set(keys).size).toBe(4);
    expect(keys[0]).toMatch(/^volley:idem:tasks:acme:[0-9a-f]{64}$/);
    expect(keys[3]).toMatch(/^volley:idem:tasks:-:[0-9a-f]{64}$/);
  });
});
