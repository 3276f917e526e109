import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOURCE_CONDITION_ARGS, startRedis, waitFor, type TestRedis } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_MAIN, type Cluster } from './support/cluster.ts';
import { EVERYTHING_MAIN, readTap, stdioServer, tappedServer, startMcpCluster } from './support/mcp-servers.ts';
import { ask, assistant, call } from './support/scripted-calls.ts';
import { readSse } from './support/sse.ts';

const CHANGING_SERVER = new URL('./fixtures/mcp-changing-server.ts', import.meta.url).pathname;
const LONG = 'everything__trigger-long-running-operation';
const errorOf = (content: string) => (JSON.parse(content) as { error: { code: string; message: string } }).error;

describe('MCP servers that die, change or do not start', () => {
  describe('when a stdio server dies in the middle of a call, changes its tools, or is slow', () => {
    let cluster: Cluster;
    let dir: string;
    let timedTap: string;
    const pidOf = async (server: string) =>
      Number((await cluster.workers[0]!.waitForLine((line) => line.msg === 'mcp server ready' && line.mcpServer === server)).pid);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'volley-mcp-faults-'));
      timedTap = join(dir, 'timed.jsonl');
      const servers = [
        stdioServer('everything', EVERYTHING_MAIN),
        // The same server, whose calls Volley may run again when it goes away under them.
        stdioServer('sturdy', EVERYTHING_MAIN, [], { retries: 3, tools: ['trigger-long-running-operation'] }),
        tappedServer('timed', timedTap, EVERYTHING_MAIN, [], { timeoutMs: 600, tools: ['trigger-long-running-operation'] }),
        stdioServer('changing', CHANGING_SERVER),
      ];
      cluster = await startMcpCluster(servers);
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('fails the call mcp_server_unavailable, restarts the server, and the next call works; the worker stays up', async () => {
      const [worker] = cluster.workers;
      const firstPid = await pidOf('everything');
      const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'doomed', name: LONG, arguments: { duration: 20, steps: 20 } }]));
      await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`, { until: (event) => event.event === 'tool_call.progress' });

      const killedAt = Date.now();
      process.kill(firstPid, 'SIGKILL');
      const task = await cluster.api.waitForTask(body.id);
      const failedAfter = task.turns[0].tool_calls[0].finished_at - killedAt;
      expect(task.status).toBe('completed');
      const message = task.messages.find((entry: any) => entry.role === 'tool');
      expect(errorOf(message.content)).toMatchObject({ code: 'mcp_server_unavailable', message: expect.stringContaining('"everything"') });
      expect(JSON.parse(message.content).error.hint).toMatch(/Calling it again may work/);

      const restarted = await worker!.waitForLine((line) => line.msg === 'mcp server restarted' && line.mcpServer === 'everything', 15_000);
      expect(Number(restarted.pid)).not.toBe(firstPid);
      const restartMs = Number(restarted.time) - killedAt;
      expect(restartMs).toBeLessThan(5_000);
      expect(worker!.alive()).toBe(true);

      const next = await cluster.api.post('/v1/tool-calls', { message: assistant(call('again', 'everything__echo', { message: 'back' })) });
      expect(next.body.messages[0].content).toBe('Echo: back');
      process.stdout.write(`[mcp] kill → call failed: ${failedAfter} ms; kill → server restarted and listed: ${restartMs} ms\n`);
    });

    it('runs the call again once the server is back, when the server allows retries', async () => {
      const pid = await pidOf('sturdy');
      const { body } = await cluster.api.post(
        '/v1/tasks',
        ask([{ id: 'again', name: 'sturdy__trigger-long-running-operation', arguments: { duration: 1, steps: 4 } }]),
      );
      await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`, { until: (event) => event.event === 'tool_call.progress' });
      process.kill(pid, 'SIGKILL');
      const task = await cluster.api.waitForTask(body.id, 30_000);
      expect(task.messages.find((message: any) => message.role === 'tool').content).toBe('Long running operation completed. Duration: 1 seconds, Steps: 4.');
      expect(task.turns[0].tool_calls[0].attempts).toBeGreaterThanOrEqual(2);
    });

    it('sends notifications/cancelled when a call reaches the server timeoutMs', async () => {
      const { body } = await cluster.api.post('/v1/tool-calls', {
        message: assistant(call('slow', 'timed__trigger-long-running-operation', { duration: 5, steps: 5 })),
      });
      expect(errorOf(body.messages[0].content)).toMatchObject({ code: 'tool_timeout', message: expect.stringContaining('600 ms') });
      const tap = await waitFor(() => {
        const entries = readTap(timedTap);
        const request = entries.find((entry) => entry.dir === 'in' && entry.message?.method === 'tools/call');
        const cancelled = entries.find(
          (entry) => entry.dir === 'in' && entry.message?.method === 'notifications/cancelled' && entry.message.params.requestId === request?.message.id,
        );
        return request && cancelled ? { request, cancelled } : undefined;
      });
      const after = tap.cancelled.at - tap.request.at;
      expect(after).toBeGreaterThanOrEqual(550);
      expect(after).toBeLessThan(1_500);
      process.stdout.write(`[mcp] timeoutMs 600 → notifications/cancelled at the server ${after} ms after the call\n`);
    });

    it('updates the registry when the server says its tools changed', async () => {
      const before = (await cluster.api.get('/v1/tools')).body.tools.map((tool: any) => tool.function.name);
      expect(before).toContain('changing__add_tool');
      expect(before).not.toContain('changing__late_comer');
      const added = await cluster.api.post('/v1/tool-calls', { message: assistant(call('add', 'changing__add_tool', { name: 'late_comer' })) });
      expect(added.body.messages[0].content).toBe('added late_comer');
      const changedAt = Date.now();
      const listed = await waitFor(
        async () => {
          const { body } = await cluster.api.get('/v1/tools');
          return body.tools.find((tool: any) => tool.function.name === 'changing__late_comer');
        },
        { timeoutMs: 5_000 },
      );
      expect(listed).toMatchObject({ side_effects: false, function: { description: 'Added at run time: late_comer.' } });
      process.stdout.write(`[mcp] tools/list_changed → GET /v1/tools shows the new tool: ${Date.now() - changedAt} ms\n`);
      const called = await cluster.api.post('/v1/tool-calls', { message: assistant(call('late', 'changing__late_comer', {})) });
      expect(called.body.messages[0].content).toBe('I am late_comer');
    });
  });

  describe('at start-up', () => {
    let redis: TestRedis;
    let dir: string;
    const runWorker = (env: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [...SOURCE_CONDITION_ARGS, WORKER_MAIN], {
          env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url, VOLLEY_METRICS_PORT: '0', VOLLEY_METRICS_HOST: '127.0.0.1', ...env },
        });
        let stderr = '';
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('close', (code) => resolve({ code, stderr }));
      });

    beforeAll(async () => {
      redis = await startRedis();
      dir = mkdtempSync(join(tmpdir(), 'volley-mcp-start-'));
    });
    afterAll(async () => {
      await redis?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('exits 1 naming a server that cannot start, with its own words, and stops the ones that did', async () => {
      const servers = [
        stdioServer('everything', EVERYTHING_MAIN),
        { name: 'broken', command: process.execPath, args: ['-e', 'console.error("cannot find my config file"); process.exit(3)'] },
        { name: 'absent', command: join(dir, 'no-such-binary') },
      ];
      const { code, stderr } = await runWorker({ VOLLEY_MCP_SERVERS: JSON.stringify(servers) });
      expect(code).toBe(1);
      expect(stderr).toMatch(/MCP server "broken" did not start: .*Connection closed/);
      expect(stderr).toContain('cannot find my config file');
      expect(stderr).toMatch(/MCP server "absent" did not start: .*ENOENT/);
      expect(stderr).not.toContain('"everything"');
    });

    it('exits 1 when a server tool takes a name another tool has', async () => {
      const module = join(dir, 'clash.mjs');
      writeFileSync(module, "export default [{ name: 'everything__echo', description: 'mine', parameters: { type: 'object' }, execute: () => 'mine' }];\n");
      const { code, stderr } = await runWorker({
        VOLLEY_TOOL_MODULES: module,
        VOLLEY_MCP_SERVERS: JSON.stringify([stdioServer('everything', EVERYTHING_MAIN)]),
      });
      expect(code).toBe(1);
      expect(stderr).toContain('duplicate tool name "everything__echo"');
      expect(stderr).toContain('MCP server "everything" tool "echo"');
    });

    it('exits 1 when the configuration names tools or lock fields the server does not have', async () => {
      const servers = [stdioServer('everything', EVERYTHING_MAIN, [], { tools: ['echo', 'ecko'], locks: { echo: { resources: ['msg:{text}'] } } })];
      const { code, stderr } = await runWorker({ VOLLEY_MCP_SERVERS: JSON.stringify(servers) });
      expect(code).toBe(1);
      expect(stderr).toContain('"tools" names "ecko", which the server does not list');
      expect(stderr).toContain('the lock rule of "echo" reads {text}, which its input schema does not have');
    });

    it('exits 1 on a bad VOLLEY_MCP_SERVERS, naming the field and never printing the value', async () => {
      const secret = 'Bearer sk-do-not-print-me';
      const servers = [
        { name: 'remote', url: 'ftp://example.test/mcp', headers: { authorization: secret } },
        { name: 'x', command: '' },
      ];
      const { code, stderr } = await runWorker({ VOLLEY_MCP_SERVERS: JSON.stringify(servers) });
      expect(code).toBe(1);
      expect(stderr).toMatch(/VOLLEY_MCP_SERVERS\.0\.url: must be an http:\/\/ or https:\/\/ URL/);
      expect(stderr).toMatch(/VOLLEY_MCP_SERVERS\.1\.command: /);
      expect(stderr).not.toContain(secret);
      const missing = await runWorker({ VOLLEY_MCP_SERVERS: join(dir, 'missing.json') });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/VOLLEY_MCP_SERVERS: cannot read the file/);
    });
  });
});
