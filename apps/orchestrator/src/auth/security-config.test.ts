import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from '@volley/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { orchestratorConfigSchema } from '../config.ts';

const BASE = { OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' };
const KEY_A = 'acme-key-0123456789abcdef';
const KEY_B = 'globex-key-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'volley-keys-'));

function keysFile(text: string): string {
  const path = join(dir, `keys-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(path, text);
  return path;
}

function configError(env: Record<string, string>): string {
  try {
    parseEnv(orchestratorConfigSchema, { ...BASE, ...env });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a config error');
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('orchestrator security configuration', () => {
  describe('when nothing is set', () => {
    it('has no keys, no tool rules, and 600 tasks a minute', () => {
      const config = parseEnv(orchestratorConfigSchema, BASE);
      expect(config.VOLLEY_API_KEYS).toBeUndefined();
      expect(config.VOLLEY_API_KEYS_FILE).toBeUndefined();
      expect(config.VOLLEY_TENANT_TOOLS).toBeUndefined();
      expect(config.VOLLEY_TASK_RATE_LIMIT).toBe(600);
    });
  });

  describe('when keys come from the environment or a file', () => {
    it('reads VOLLEY_API_KEYS', () => {
      const config = parseEnv(orchestratorConfigSchema, { ...BASE, VOLLEY_API_KEYS: `${KEY_A}:acme,${KEY_B}:globex` });
      expect(config.VOLLEY_API_KEYS?.map((entry) => entry.tenant)).toEqual(['acme', 'globex']);
    });

    it('reads VOLLEY_API_KEYS_FILE, with tenant tool rules and a rate limit of 0', () => {
      const config = parseEnv(orchestratorConfigSchema, {
        ...BASE,
        VOLLEY_API_KEYS_FILE: keysFile(`# keys\n${KEY_A}:acme\n${KEY_B}:globex\n`),
        VOLLEY_TENANT_TOOLS: 'acme=echo|nap',
        VOLLEY_TASK_RATE_LIMIT: '0',
      });
      expect(config.VOLLEY_API_KEYS_FILE?.map((entry) => entry.tenant)).toEqual(['acme', 'globex']);
      expect([...config.VOLLEY_TENANT_TOOLS!.get('acme')!]).toEqual(['echo', 'nap']);
      expect(config.VOLLEY_TASK_RATE_LIMIT).toBe(0);
    });

    it('reads VOLLEY_DASHBOARD_TENANTS as a list of tenants that have keys', () => {
      const config = parseEnv(orchestratorConfigSchema, {
        ...BASE,
        VOLLEY_API_KEYS: `${KEY_A}:acme,${KEY_B}:globex`,
        VOLLEY_DASHBOARD_TENANTS: ' globex ,acme',
      });
      expect(config.VOLLEY_DASHBOARD_TENANTS).toEqual(['globex', 'acme']);
    });
  });

  describe('when the values are wrong', () => {
    it('refuses both key variables at once', () => {
      const message = configError({ VOLLEY_API_KEYS: `${KEY_A}:acme`, VOLLEY_API_KEYS_FILE: keysFile(`${KEY_B}:globex`) });
      expect(message).toMatch(/VOLLEY_API_KEYS_FILE: set VOLLEY_API_KEYS or VOLLEY_API_KEYS_FILE, not both/);
    });

    it('names a missing keys file', () => {
      expect(configError({ VOLLEY_API_KEYS_FILE: join(dir, 'nope.txt') })).toMatch(/VOLLEY_API_KEYS_FILE: cannot read .*nope\.txt: ENOENT/);
    });

    it('reports bad pairs by position and never prints a key', () => {
      const message = configError({ VOLLEY_API_KEYS: `${KEY_A}:acme,${KEY_B}:bad tenant,${KEY_A}:again` });
      expect(message).toMatch(/VOLLEY_API_KEYS: pair 2: the tenant/);
      expect(message).toMatch(/VOLLEY_API_KEYS: pair 3: the key of tenant again repeats the key of pair 1/);
      expect(message).not.toContain(KEY_A);
      expect(message).not.toContain(KEY_B);
    });

    it('refuses tool rules without keys, or for a tenant no key has', () => {
      expect(configError({ VOLLEY_TENANT_TOOLS: 'acme=echo' })).toMatch(/VOLLEY_TENANT_TOOLS: needs VOLLEY_API_KEYS/);
      expect(configError({ VOLLEY_API_KEYS: `${KEY_A}:acme`, VOLLEY_TENANT_TOOLS: 'acme=echo;acmee=nap' })).toMatch(
        /VOLLEY_TENANT_TOOLS: no API key belongs to tenant acmee/,
      );
    });

    it('refuses dashboard tenants without keys, or a tenant no key has', () => {
      expect(configError({ VOLLEY_DASHBOARD_TENANTS: 'ops' })).toMatch(/VOLLEY_DASHBOARD_TENANTS: needs VOLLEY_API_KEYS/);
      expect(configError({ VOLLEY_API_KEYS: `${KEY_A}:acme`, VOLLEY_DASHBOARD_TENANTS: 'acme, ops' })).toMatch(
        /VOLLEY_DASHBOARD_TENANTS: no API key belongs to tenant ops/,
      );
      expect(configError({ VOLLEY_API_KEYS: `${KEY_A}:acme`, VOLLEY_DASHBOARD_TENANTS: ' , ' })).toMatch(/VOLLEY_DASHBOARD_TENANTS: name at least one tenant/);
    });

    it('refuses a negative rate limit', () => {
      expect(configError({ VOLLEY_TASK_RATE_LIMIT: '-1' })).toMatch(/VOLLEY_TASK_RATE_LIMIT: .*"-1"/);
    });
  });
});
