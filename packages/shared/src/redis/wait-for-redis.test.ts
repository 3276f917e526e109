import { describe, expect, it } from 'vitest';
import { redisAccessProblem } from './wait-for-redis.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('redisAccessProblem', () => {
  describe('when no retry can help', () => {
    it.each([
      ['a wrong password', new Error('WRONGPASS invalid username-password pair or user is disabled.'), /refused the credentials in REDIS_URL \(WRONGPASS\)/],
      ['a missing password', new Error('NOAUTH Authentication required.'), /refused the credentials in REDIS_URL \(NOAUTH\)/],
      ['an untrusted certificate', withCode('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), /TLS certificate was rejected .*NODE_EXTRA_CA_CERTS/],
      [
        'a certificate for another host',
        withCode("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'),
        /TLS certificate was rejected/,
      ],
    ])('explains %s', (_what, error, explanation) => {
      expect(redisAccessProblem(error)).toMatch(explanation);
    });
  });

  describe('when a reconnect may cure it', () => {
    it.each([
      ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED')],
      ['a reset', withCode('write ECONNRESET', 'ECONNRESET')],
      ['Redis loading its data', new Error('LOADING Redis is loading the dataset in memory')],
      ['not an error', 'WRONGPASS'],
    ])('answers undefined for %s', (_what, error) => {
      expect(redisAccessProblem(error)).toBeUndefined();
    });
  });
});
