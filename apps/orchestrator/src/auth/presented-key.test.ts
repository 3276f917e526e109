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

  describe('when Basic auth is allowed (the queue dashboard)', () => {
    const basic = (credentials: string) => ({ authorization: `Basic ${Buffer.from(credentials).toString('base64')}` });

    it.each([
      ['as the password, with a user name', basic(`admin:${KEY}`)],
      ['as the password, with no user name', basic(`:${KEY}`)],
      ['as the password, scheme in any case', { authorization: `basic ${Buffer.from(`x:${KEY}`).toString('base64')}` }],
      ['as a bearer token still', { authorization: `Bearer ${KEY}` }],
      ['as Basic and x-api-key, agreeing', { ...basic(`x:${KEY}`), 'x-api-key': KEY }],
    ])('finds it %s', (_what, headers) => {
      expect(presentedKey(headers, { basic: true })).toEqual({ ok: true, key: KEY });
    });

    it('keeps a colon inside the password', () => {
      expect(presentedKey(basic(`user:${KEY}:more`), { basic: true })).toEqual({ ok: true, key: `${KEY}:more` });
    });

    it.each([
      ['no password', basic(`${KEY}`), /Basic with the API key as the password/],
      ['an empty password', basic('user:'), /Basic with the API key as the password/],
      ['Basic that is not base64', { authorization: 'Basic !!!' }, /Basic with the API key as the password/],
      ['Basic and x-api-key that differ', { ...basic(`x:${KEY}`), 'x-api-key': `${KEY}x` }, /different keys/],
    ])('refuses %s, without quoting it', (_what, headers, problem) => {
      const presented = presentedKey(headers, { basic: true });
      expect(presented.ok).toBe(false);
      expect(!presented.ok && presented.problem).toMatch(problem);
      expect(JSON.stringify(presented)).not.toContain(KEY);
    });

    it('is not accepted unless asked for', () => {
      expect(presentedKey(basic(`x:${KEY}`)).ok).toBe(false);
    });
  });
});
