import { describe, expect, it } from 'vitest';
import { presentedKey } from './presented-key.ts';

const KEY = 'k'.repeat(24);

describe('presentedKey', () => {
  describe('when a key is sent', () => {
    it.each([
      ['as a bearer token', { authorization: `Bearer ${KEY}` }],
      ['as a bearer token, scheme in any case, extra spaces', { authorization: `bearer   ${KEY} ` }],
      ['as x-api-key', { 'x-api-key': KEY }],
      ['both ways, agreeing', { authorization: `Bearer ${KEY}`, 'x-api-key': KEY }],
      ['as x-api-key beside another Authorization scheme', { authorization: 'Basic Zm9vOmJhcg==', 'x-api-key': KEY }],
    ])('finds it %s', (_what, headers) => {
      expect(presentedKey(headers)).toEqual({ ok: true, key: KEY });
    });
  });

  describe('when no usable key is sent', () => {
    it.each([
      ['nothing', {}, /an API key is required/],
      ['an empty x-api-key', { 'x-api-key': ' ' }, /an API key is required/],
      ['another Authorization scheme', { authorization: `Basic ${KEY}` }, /must be "Bearer <API key>"/],
      ['a bearer without a token', { authorization: 'Bearer ' }, /must be "Bearer <API key>"/],
      ['two keys that differ', { authorization: `Bearer ${KEY}`, 'x-api-key': `${KEY}x` }, /different keys/],
      ['x-api-key twice', { 'x-api-key': [KEY, KEY] }, /more than one x-api-key/],
    ])('says what is wrong with %s, without quoting it', (_what, headers, problem) => {
      const presented = presentedKey(headers);
      expect(presented.ok).toBe(false);
      expect(!presented.ok && presented.problem).toMatch(problem);
      expect(JSON.stringify(presented)).not.toContain(KEY);
    });
  });
});
