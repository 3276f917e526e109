import { spawn } from 'node:child_process';
import { SOURCE_CONDITION_ARGS } from '@volley/shared/testing';
import { describe, expect, it } from 'vitest';
import { ORCHESTRATOR_MAIN, WORKER_MAIN } from './support/cluster.ts';

function run(script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...SOURCE_CONDITION_ARGS, script], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('startup configuration', () => {
  describe('when the orchestrator gets bad values', () => {
    it('exits 1 naming every bad variable and its value', async () => {
      const { code, stderr } = await run(ORCHESTRATOR_MAIN, { PORT: '99999', VOLLEY_MAX_TURNS: 'many', REDIS_URL: 'http://nope' });
      expect(code).toBe(1);
      expect(stderr).toContain('invalid configuration');
      expect(stderr).toMatch(/PORT: .*"99999"/);
      expect(stderr).toMatch(/VOLLEY_MAX_TURNS: .*"many"/);
      expect(stderr).toMatch(/REDIS_URL: .*"http:\/\/nope"/);
    });

    it('refuses bad API keys and tool rules without printing any key', async () => {
      const key = 'a-secret-key-0123456789';
      const { code, stderr } = await run(ORCHESTRATOR_MAIN, {
        OPENAI_BASE_URL: 'http://127.0.0.1:1/v1',
        VOLLEY_API_KEYS: `${key}:acme,${key}:globex,tinyk3y:initech`,
        VOLLEY_TENANT_TOOLS: 'acme=nap;hooli=*',
        VOLLEY_TASK_RATE_LIMIT: 'lots',
      });
      expect(code).toBe(1);
      expect(stderr).toMatch(/VOLLEY_API_KEYS: pair 2: the key of tenant globex repeats the key of pair 1 \(value hidden\)/);
      expect(stderr).toMatch(/VOLLEY_API_KEYS: pair 3: the key of tenant initech is shorter than 16 characters/);
      expect(stderr).toMatch(/VOLLEY_TASK_RATE_LIMIT: .*"lots"/);
      expect(stderr).not.toContain(key);
      expect(stderr).not.toContain('tinyk3y');
    });

    it('asks for an API key when no OpenAI-compatible endpoint is named', async () => {
      const { code, stderr } = await run(ORCHESTRATOR_MAIN, {});
      expect(code).toBe(1);
      expect(stderr).toMatch(/OPENAI_API_KEY: required when OPENAI_BASE_URL is unset/);
    });
  });

  describe('when a tool worker gets bad values', () => {
    it('exits 1 naming them', async () => {
      const { code, stderr } = await run(WORKER_MAIN, { VOLLEY_WORKER_CONCURRENCY: '0', VOLLEY_POOL: 'a:b' });
      expect(code).toBe(1);
      expect(stderr).toMatch(/VOLLEY_WORKER_CONCURRENCY: .*"0"/);
      expect(stderr).toMatch(/VOLLEY_POOL: .*"a:b"/);
    });

    it('exits 1 when a tool module cannot be loaded', async () => {
      const { code, stderr } = await run(WORKER_MAIN, { VOLLEY_TOOL_MODULES: './does-not-exist.ts' });
      expect(code).toBe(1);
      expect(stderr).toContain('cannot load tool module ./does-not-exist.ts');
    });
  });

  describe('when Redis Cluster is named with a prefix that has no hash tag', () => {
    it('exits 1 asking for one, in both apps', async () => {
      for (const script of [ORCHESTRATOR_MAIN, WORKER_MAIN]) {
        const { code, stderr } = await run(script, { REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001', VOLLEY_PREFIX: 'volley', OPENAI_API_KEY: 'k' });
        expect(code).toBe(1);
        expect(stderr).toMatch(/VOLLEY_PREFIX: on Redis Cluster the prefix needs a \{hash tag\}/);
      }
    });
  });
});
