import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOURCE_CONDITION_ARGS } from '@volley/shared/testing';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
// Longer than the script's own deadlines (start-up, the task, clean-up) so that it reports a
// stuck run itself; and whatever else sticks is stopped in time for its output to be shown.
const KILL_AFTER_MS = 80_000;
const TEST_TIMEOUT_MS = 90_000;

function runStart(extraEnv: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...extraEnv };
    for (const name of ['REDIS_URL', 'OPENAI_BASE_URL', 'PORT']) delete env[name];
    const child = spawn(process.execPath, [...SOURCE_CONDITION_ARGS, 'scripts/start.ts'], { cwd: root, env });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const killer = setTimeout(() => {
      output += `\n[stopped after ${KILL_AFTER_MS} ms]`;
      // SIGTERM lets the script stop the Redis and processes it started.
      child.kill('SIGTERM');
    }, KILL_AFTER_MS);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    });
  });
}

describe('npm start', () => {
  describe('on a machine with nothing running', () => {
    it(
      'runs a task whose three tool calls overlap on two worker processes, then cleans up',
      async () => {
        const { code, output } = await runStart();
        expect(code, output).toBe(0);
        expect(output).toMatch(/Transcript of task [0-9a-f-]+ \(completed\)/);
        expect(output).toContain('assistant → 3 tool calls in one message');
        const [, span, sum] =
          output.match(/Turn 1: 3 tool calls in (\d+) ms from first start to last end \(one after another: (\d+) ms\).*, on 2 worker processes/) ?? [];
        expect(Number(span), output).toBeGreaterThan(0);
        // get_weather (~250 ms) and sleep (300 ms) ran side by side: well under their sum.
        expect(Number(span), output).toBeLessThan(0.75 * Number(sum));
        expect(output).toMatch(/Usage: 2 LLM round trips, 3 tool calls/);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('on a machine whose Docker endpoint accepts connections but never answers', () => {
    it(
      'falls back to a local redis-server and still exits once done',
      async () => {
        const dir = await mkdtemp(join(tmpdir(), 'volley-silent-docker-'));
        const sockets = new Set<Socket>();
        const silent = createServer((socket) => sockets.add(socket));
        await new Promise<void>((resolve) => silent.listen(join(dir, 'docker.sock'), resolve));
        try {
          const { code, output } = await runStart({ DOCKER_HOST: `unix://${join(dir, 'docker.sock')}` });
          expect(code, output).toBe(0);
          expect(output).toContain('• Redis (redis-server)');
          expect(output).toMatch(/Transcript of task [0-9a-f-]+ \(completed\)/);
        } finally {
          for (const socket of sockets) socket.destroy();
          await new Promise((resolve) => silent.close(resolve));
          await rm(dir, { recursive: true, force: true });
        }
      },
      TEST_TIMEOUT_MS,
    );
  });
});
