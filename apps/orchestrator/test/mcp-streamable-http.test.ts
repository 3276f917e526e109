import { taskEventsKey } from '@volley/shared';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from './support/cluster.ts';
import { startHttpEverything, type HttpEverything, startMcpCluster } from './support/mcp-servers.ts';
import { ask, assistant, call } from './support/scripted-calls.ts';
import { readSse, type SseEvent } from './support/sse.ts';

const LONG = 'trigger-long-running-operation';
const dataOf = (event: SseEvent) => JSON.parse(event.data) as Record<string, any>;
const errorOf = (content: string) => (JSON.parse(content) as { error: { code: string; message: string } }).error;

/** server-everything in its Streamable HTTP mode, a process of its own, mounted by URL. */
describe('MCP servers as tool sources (Streamable HTTP)', () => {
  let server: HttpEverything;
  let cluster: Cluster;
  const runTask = async (calls: unknown[]) => {
    const { body } = await cluster.api.post('/v1/tasks', ask(calls));
    return cluster.api.waitForTask(body.id, 30_000);
  };
  const worker = () => cluster.workers[0]!;

  beforeAll(async () => {
    server = await startHttpEverything();
    const servers = [
      { name: 'remote', url: server.url, headers: { 'x-volley-test': 'yes' } },
      // The same server again, under tighter limits: one call in flight, 1.5 s each (the wait for the slot included).
      { name: 'narrow', url: server.url, concurrency: 1, timeoutMs: 1_500, tools: [LONG] },
    ];
    cluster = await startMcpCluster(servers);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await server?.stop();
  });

  it('lists the server tools and runs calls in parallel in one message', async () => {
    const { body } = await cluster.api.get('/v1/tools');
    const names = body.tools.map((tool: any) => tool.function.name);
    expect(names).toEqual(expect.arrayContaining(['remote__echo', 'remote__get-sum', `remote__${LONG}`, `narrow__${LONG}`]));
    expect(names).not.toContain('narrow__echo');
    const ready = worker().lines.filter((line) => line.msg === 'mcp server ready');
    expect(ready.map((line) => line.protocolVersion)).toEqual(['2025-11-25', '2025-11-25']);

    const task = await runTask([
      { id: 'echo', name: 'remote__echo', arguments: { message: 'over HTTP' } },
      { id: 'slow1', name: `remote__${LONG}`, arguments: { duration: 1, steps: 2 } },
      { id: 'slow2', name: `remote__${LONG}`, arguments: { duration: 1, steps: 2 } },
    ]);
    expect(task.status).toBe('completed');
    const tools = task.messages.filter((message: any) => message.role === 'tool');
    expect(tools.map((message: any) => message.content)).toEqual([
      'Echo: over HTTP',
      'Long running operation completed. Duration: 1 seconds, Steps: 2.',
      'Long running operation completed. Duration: 1 seconds, Steps: 2.',
    ]);
    const [, a, b] = task.turns[0].tool_calls;
    expect(a.started_at).toBeLessThan(b.finished_at);
    expect(b.started_at).toBeLessThan(a.finished_at);
  });

  it('brings progress notifications (on the response stream) to the task event stream', async () => {
    const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'long', name: `remote__${LONG}`, arguments: { duration: 0.9, steps: 3 } }]));
    const { events } = await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`);
    expect(events.filter((event) => event.event === 'tool_call.progress').map((event) => dataOf(event).value)).toEqual(
      [1, 2, 3].map((step) => ({ progress: step, total: 3 })),
    );
  });

  it('keeps at most `concurrency` calls in flight to the server, and ends a call at the server timeoutMs', async () => {
    const task = await runTask([1, 2, 3].map((n) => ({ id: `one${n}`, name: `narrow__${LONG}`, arguments: { duration: 0.3, steps: 1 } })));
    const calls = task.turns[0].tool_calls;
    expect(calls.map((entry: any) => entry.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const ends = calls.map((entry: any) => entry.finished_at).sort((x: number, y: number) => x - y);
    // One at a time: each ends a whole operation (300 ms) after the one before.
    expect(ends[1] - ends[0]).toBeGreaterThanOrEqual(280);
    expect(ends[2] - ends[1]).toBeGreaterThanOrEqual(280);

    const slow = await runTask([{ id: 'late', name: `narrow__${LONG}`, arguments: { duration: 5, steps: 5 } }]);
    const late = slow.messages.find((message: any) => message.tool_call_id === 'late');
    expect(errorOf(late.content)).toMatchObject({ code: 'tool_timeout', message: expect.stringContaining('1500 ms') });
    const ran = slow.turns[0].tool_calls[0].finished_at - slow.turns[0].tool_calls[0].started_at;
    expect(ran).toBeGreaterThanOrEqual(1_450);
    expect(ran).toBeLessThan(2_500);
  });

  it('cancels a running call with the task: the call ends at once, and the cancellation is posted to the server', async () => {
    const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'forever', name: `remote__${LONG}`, arguments: { duration: 30, steps: 30 } }]));
    await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`, { until: (event) => event.event === 'tool_call.progress' });
    const cancelAt = Date.now();
    await cluster.api.post(`/v1/tasks/${body.id}/cancel`, {});
    const finished = await waitFor(async () => {
      const entries = (await cluster.client.xrange(taskEventsKey('volley', body.id), '-', '+')) as Array<[string, string[]]>;
      const entry = entries.find(([, fields]) => fields[1] === 'tool_call.finished');
      return entry ? (JSON.parse(entry[1][3]!) as Record<string, any>) : undefined;
    });
    expect(finished).toMatchObject({ tool_call_id: 'forever', error_code: 'cancelled' });
    expect(finished.at - cancelAt).toBeLessThan(2_000);
    // Nothing else is sent on the session meanwhile: the one POST after the cancel is notifications/cancelled.
    await waitFor(() => server.lines.some((entry) => entry.at >= cancelAt && entry.line.includes('POST')), { timeoutMs: 3_000 });
  });

  it('fails a call in flight when the server dies, and opens a new session when it is back', async () => {
    const port = server.port;
    const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'cut', name: `remote__${LONG}`, arguments: { duration: 20, steps: 20 } }]));
    await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`, { until: (event) => event.event === 'tool_call.progress' });
    const killedAt = Date.now();
    await server.stop();
    const task = await cluster.api.waitForTask(body.id);
    const cut = task.messages.find((message: any) => message.tool_call_id === 'cut');
    expect(errorOf(cut.content)).toMatchObject({ code: 'mcp_server_unavailable' });
    const failedAfter = task.turns[0].tool_calls[0].finished_at - killedAt;
    expect(failedAfter).toBeLessThan(5_000);
    const down = await cluster.api.post('/v1/tool-calls', { message: assistant(call('down', 'remote__echo', { message: 'anyone?' })) });
    expect(errorOf(down.body.messages[0].content)).toMatchObject({ code: 'mcp_server_unavailable' });
    const backAt = Date.now();
    server = await startHttpEverything(port);
    const restarted = await worker().waitForLine(
      (line) => line.msg === 'mcp server restarted' && line.mcpServer === 'remote' && Number(line.time) >= backAt,
      20_000,
    );
    const up = await cluster.api.post('/v1/tool-calls', { message: assistant(call('up', 'remote__echo', { message: 'back' })) });
    expect(up.body.messages[0].content).toBe('Echo: back');
    expect(worker().alive()).toBe(true);
    process.stdout.write(
      `[mcp] HTTP server killed → call in flight failed: ${failedAfter} ms; server back → new session: ${Number(restarted.time) - backAt} ms\n`,
    );
  });
});
