import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, matchesGlob, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnNode, startRedis, waitFor, type NodeProcess, type TestRedis } from '../src/testing/index.ts';
import { copiedFromContext, installCommands } from './support/dockerfile.ts';

// What infra/Dockerfile builds, without a Docker engine: the files its final stage copies (less
// what .dockerignore keeps out), installed as its deps stage installs them, with production
// dependencies only, then every process the compose file runs from the image, started from that
// copy and put through one task. A package some process imports at run time but that is only a
// devDependency fails here, as it would in the image.

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A matcher of `.dockerignore`'s patterns, for paths relative to the build context. */
function dockerignored(): (path: string) => boolean {
  const patterns = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return (path) => patterns.some((pattern) => matchesGlob(path, pattern));
}

describe('the image’s install (infra/Dockerfile), production dependencies only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'volley-image-'));
  const app = (path: string) => join(dir, path);
  let redis: TestRedis;
  const processes: NodeProcess[] = [];

  beforeAll(async () => {
    const ignored = dockerignored();
    for (const source of copiedFromContext()) {
      cpSync(join(repoRoot, source), app(source), { recursive: true, filter: (path) => !ignored(relative(repoRoot, path)) });
    }
    // The cache `npm ci` filled for the workspace serves this one: no registry round trips.
    const env = { ...process.env, NODE_ENV: 'production', npm_config_prefer_offline: 'true' };
    for (const command of installCommands()) await run('sh', ['-c', command], { cwd: dir, env, timeout: 150_000 });
    redis = await startRedis();
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(processes.map((child) => child.stop()));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs no dev dependency, no TypeScript and no test', () => {
    expect(installCommands().join('\n')).toMatch(/^npm ci --omit=dev\b/m);
    for (const devOnly of ['vitest', 'typescript', 'testcontainers', '@biomejs/biome', 'playwright-core', '@typescript']) {
      expect(existsSync(app(`node_modules/${devOnly}`)), devOnly).toBe(false);
    }
    expect(existsSync(app('apps/orchestrator/test'))).toBe(false);
    expect(existsSync(app('packages/scripted-model/src/scripted-model.test.ts'))).toBe(false);
  });

  it('starts the scripted model, the orchestrator and a tool worker from it, and runs a task through them', async () => {
    const env = { NODE_ENV: 'production', LOG_LEVEL: 'info' };
    const modelPort = await freePort();
    const model = await spawnNode({
      name: 'image-scripted-model',
      cwd: dir,
      script: 'packages/scripted-model/src/main.ts',
      env: { ...env, SCRIPTED_MODEL_PORT: String(modelPort) },
      ready: (line) => line.msg === 'scripted model listening',
    });
    processes.push(model);
    const worker = await spawnNode({
      name: 'image-tool-worker',
      cwd: dir,
      script: 'apps/tool-worker/src/main.ts',
      env: { ...env, REDIS_URL: redis.url, VOLLEY_METRICS_PORT: '0', VOLLEY_METRICS_HOST: '127.0.0.1' },
      ready: (line) => line.msg === 'worker ready',
    });
    processes.push(worker);
    const port = await freePort();
    const orchestrator = await spawnNode({
      name: 'image-orchestrator',
      cwd: dir,
      script: 'apps/orchestrator/src/main.ts',
      env: {
        ...env,
        REDIS_URL: redis.url,
        PORT: String(port),
        HOST: '127.0.0.1',
        OPENAI_BASE_URL: `http://127.0.0.1:${modelPort}/v1`,
        VOLLEY_MODEL: 'scripted',
      },
      ready: (line) => line.msg === 'orchestrator ready',
    });
    processes.push(orchestrator);

    const base = `http://127.0.0.1:${port}`;
    const submitted = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'weather and time, please' }] }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const task = await waitFor(
      async () => {
        const body = (await (await fetch(`${base}/v1/tasks/${id}`)).json()) as { status: string; output?: string; turns: unknown[] };
        return ['completed', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 20_000, message: `task ${id} did not finish` },
    );
    expect(task).toMatchObject({ status: 'completed', output: expect.stringContaining('Here is what the tools returned') });
    expect(task.turns.length).toBe(2);
  }, 60_000);
});
