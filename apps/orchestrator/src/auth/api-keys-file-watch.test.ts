import { createLogger } from '@volley/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { watchApiKeysFile } from './api-keys-file-watch.ts';
import { ApiKeyring, type ApiKeyEntry } from './api-keys.ts';
import type { Security } from './security.ts';

const OLD_KEY = 'old-key-0123456789abcdef';
const NEW_KEY = 'new-key-0123456789abcdef';

function securityWith(entries: ApiKeyEntry[]): Security {
  return { keyring: new ApiKeyring(entries), tenantTools: new Map(), taskRateLimit: null, dashboardTenants: null };
}

describe('watchApiKeysFile', () => {
  let stop: () => void = () => undefined;
  afterEach(() => stop());

  describe('on SIGHUP', () => {
    it('swaps in the keys read now', () => {
      const security = securityWith([{ key: OLD_KEY, tenant: 'acme' }]);
      stop = watchApiKeysFile({
        security,
        path: '/nonexistent/keys',
        readKeys: () => [{ key: NEW_KEY, tenant: 'acme' }],
        logger: createLogger('test', 'silent'),
      });
      process.emit('SIGHUP');
      expect(security.keyring?.tenantOf(NEW_KEY)).toBe('acme');
      expect(security.keyring?.tenantOf(OLD_KEY)).toBeUndefined();
    });

    it('keeps the keys in force when the new ones fail the checks', () => {
      const security = securityWith([{ key: OLD_KEY, tenant: 'acme' }]);
      const before = security.keyring;
      stop = watchApiKeysFile({
        security,
        path: '/nonexistent/keys',
        readKeys: () => {
          throw new Error('no API key belongs to tenant globex');
        },
        logger: createLogger('test', 'silent'),
      });
      process.emit('SIGHUP');
      expect(security.keyring).toBe(before);
      expect(security.keyring?.tenantOf(OLD_KEY)).toBe('acme');
    });
  });

  describe('once stopped', () => {
    it('no longer listens for SIGHUP', () => {
      const listeners = process.listenerCount('SIGHUP');
      const security = securityWith([{ key: OLD_KEY, tenant: 'acme' }]);
      watchApiKeysFile({ security, path: '/nonexistent/keys', readKeys: () => [], logger: createLogger('test', 'silent') })();
      expect(process.listenerCount('SIGHUP')).toBe(listeners);
    });
  });
});
