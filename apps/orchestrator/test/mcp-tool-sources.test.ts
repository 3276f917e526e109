import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { taskEventsKey } from '@volley/shared';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from './support/cluster.ts';
import { EVERYTHING_MAIN, FILESYSTEM_MAIN, readTap, tappedServer, type TapEntry, startMcpCluster } from './support/mcp-servers.ts';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
import { ask, call, assistant } from './support/scripted-calls.ts';
import { readSse, type SseEvent } from './support/sse.ts';

const LONG = 'everything__trigger-long-running-operation';
const dataOf = (event: SseEvent) => JSON.parse(event.data) as Record<string, any>;
const errorOf = (message: { content: string }) => (JSON.parse(message.content) as { error: { code: string; message: string } }).error;

/** The tools/call requests a server received, each with its answer (if any) from the same server process. */
function toolCalls(entries: readonly TapEntry[], tool: string) {
  return entries
    .filter((entry) => entry.dir === 'in' && entry.message?.method === 'tools/call' && entry.message.params?.name === tool)
    .map((request) => ({
      request,
      response: entries.find(
        (entry) => entry.dir === 'out' && entry.pid === request.pid && entry.message?.id === request.message.id && !('method' in entry.message),
      ),
      cancelled: entries.find(
        (entry) =>
          entry.dir === 'in' &&
          entry.pid === request.pid &&
          entry.message?.method === 'notifications/cancelled' &&
          entry.message.params?.requestId === request.message.id,
      ),
    }));
}

/**
 * Real MCP servers no one here wrote, mounted by two real workers over stdio (each behind a tap
 * that records what crosses it), reached through real Volley tasks.
 */
describe('MCP servers as tool sources (stdio)', () => {
  let cluster: Cluster;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let dir: string;
  let root: string;
  let everythingTap: string;
  let fsTap: string;

  const runTask = async (calls: unknown[]) => {
    const { status, body } = await cluster.api.post('/v1/tasks', ask(calls));
    expect(status).toBe(202);
    return cluster.api.waitForTask(body.id, 30_000);
  };
  const toolMessages = (task: any) => task.messages.filter((message: any) => message.role === 'tool');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'volley-mcp-'));
    root = realpathSync(mkdtempSync(join(dir, 'files-')));
    everythingTap = join(dir, 'everything.jsonl');
    fsTap = join(dir, 'fs.jsonl');
    receiver = await startOtlpReceiver();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50' };
    const servers = [
      tappedServer('everything', everythingTap, EVERYTHING_MAIN),
      tappedServer('fs', fsTap, FILESYSTEM_MAIN, [root], {
        tools: ['read_text_file', 'write_file', 'edit_file', 'list_directory'],
        locks: {
          edit_file: { resources: ['file:{path}'] },
          write_file: { resources: ['file:{path}'] },
          read_text_file: { resources: [{ key: 'file:{path}', mode: 'read' }] },
        },
      }),
    ];
    cluster = await startMcpCluster(servers, { workers: 2, workerEnv: otel, orchestratorEnv: otel });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('when the tools are listed', () => {
    it('shows each server tool as <server>__<tool>, its inputSchema as parameters, side effects from its annotations and rules', async () => {
      const { status, body } = await cluster.api.get('/v1/tools');
      expect(status).toBe(200);
      const byName = new Map<string, any>(body.tools.map((tool: any) => [tool.function.name, tool]));
      for (const name of [
        'everything__echo',
        'everything__get-sum',
        'everything__get-structured-content',
        LONG,
        'fs__write_file',
        'fs__edit_file',
        'fs__read_text_file',
        'nap',
      ]) {
        expect(byName.has(name), name).toBe(true);
      }
      // Only as an MCP task, which a queued call cannot be; and what "tools" leaves out.
      expect(byName.has('everything__simulate-research-query')).toBe(false);
      expect(byName.has('fs__move_file')).toBe(false);
      const echo = byName.get('everything__echo');
      expect(echo).toMatchObject({ pool: 'default', workers: 2, side_effects: false, function: { description: 'Echoes back the input string' } });
      expect(echo.function.parameters).toMatchObject({ type: 'object', properties: { message: { type: 'string' } }, required: ['message'] });
      expect(echo.function.parameters).not.toHaveProperty('$schema');
      // readOnlyHint: true takes no locks; a destructive tool has side effects.
      expect(byName.get('fs__read_text_file').side_effects).toBe(false);
      expect(byName.get('fs__write_file').side_effects).toBe(true);
      expect(byName.get('everything__toggle-simulated-logging').side_effects).toBe(true);
    });

    it('negotiated the latest protocol revision with both servers', () => {
      const ready = cluster.workers.flatMap((worker) => worker.lines.filter((line) => line.msg === 'mcp server ready'));
      expect(ready).toHaveLength(4);
      expect(new Set(ready.map((line) => line.protocolVersion))).toEqual(new Set(['2025-11-25']));
    });
  });

  describe('when a task calls MCP tools in parallel in one message', () => {
    let task: any;
    let startedAt: number;

    beforeAll(async () => {
      startedAt = Date.now();
      task = await runTask([
        { id: 'echo', name: 'everything__echo', arguments: { message: 'hello from Volley' } },
        { id: 'sum', name: 'everything__get-sum', arguments: { a: 2, b: 40 } },
        { id: 'weather', name: 'everything__get-structured-content', arguments: { location: 'Chicago' } },
        { id: 'image', name: 'everything__get-tiny-image', arguments: {} },
        { id: 'slow1', name: LONG, arguments: { duration: 1, steps: 2 } },
        { id: 'slow2', name: LONG, arguments: { duration: 1, steps: 2 } },
        { id: 'nap', name: 'nap', arguments: { ms: 10 } },
      ]);
    });

    it('gives each call its tool message, in model order: text joined, structuredContent as JSON, other parts as JSON', () => {
      expect(task.status).toBe('completed');
      const messages = toolMessages(task);
      expect(messages.map((message: any) => message.tool_call_id)).toEqual(['echo', 'sum', 'weather', 'image', 'slow1', 'slow2', 'nap']);
      expect(messages[0].content).toBe('Echo: hello from Volley');
      expect(messages[1].content).toContain('42');
      expect(JSON.parse(messages[2].content)).toEqual({ temperature: 36, conditions: 'Light rain / drizzle', humidity: 82 });
      const [caption, image] = messages[3].content.split('\n');
      expect(caption).toBe("Here's the image you requested:");
      expect(JSON.parse(image)).toMatchObject({ type: 'image', mimeType: 'image/png', data: expect.stringMatching(/^iVBOR/) });
      expect(messages[4].content).toBe('Long running operation completed. Duration: 1 seconds, Steps: 2.');
    });

    it('runs them at once: two 1 s operations end within about 1 s of the first start', () => {
      const calls = task.turns[0].tool_calls;
      const slow = calls.filter((entry: any) => entry.id.startsWith('slow'));
      expect(slow.every((entry: any) => entry.status === 'succeeded')).toBe(true);
      const [a, b] = slow;
      expect(a.started_at).toBeLessThan(b.finished_at);
      expect(b.started_at).toBeLessThan(a.finished_at);
      const first = Math.min(...calls.map((entry: any) => entry.started_at));
      const last = Math.max(...calls.map((entry: any) => entry.finished_at));
      expect(last - first).toBeLessThan(1_800);
      process.stdout.write(`[mcp] 7 parallel calls (two of 1 s): first start → last end ${last - first} ms\n`);
      expect(Date.now() - startedAt).toBeLessThan(10_000);
    });

    it('sends the trace context in _meta: traceparent names the call’s execute_tool span in the task’s trace', async () => {
      const request = toolCalls(readTap(everythingTap), 'echo').find(
        (entry) => entry.request.message.params.arguments.message === 'hello from Volley',
      )!.request;
      const traceparent: string = request.message.params._meta.traceparent;
      expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const [, traceId, spanId] = traceparent.split('-');
      expect(traceId).toBe(task.trace_id);
      const span = await waitFor(() => receiver.spans.find((candidate) => candidate.spanId === spanId));
      expect(span).toMatchObject({ name: 'execute_tool everything__echo', traceId: task.trace_id });
      // The SDK adds the progress token beside it.
      expect(request.message.params._meta.progressToken).toBeDefined();
    });
  });

  describe('when a call is refused before or by the server', () => {
    let task: any;

    beforeAll(async () => {
      writeFileSync(join(root, 'present.txt'), 'here');
      task = await runTask([
        { id: 'bad', name: 'everything__get-sum', arguments: { a: 'two', b: 3 } },
        { id: 'missing', name: 'fs__read_text_file', arguments: { path: join(root, 'absent.txt') } },
        { id: 'outside', name: 'fs__read_text_file', arguments: { path: '/etc/hostname' } },
        { id: 'present', name: 'fs__read_text_file', arguments: { path: join(root, 'present.txt') } },
      ]);
    });

    it('validates the arguments against the inputSchema like any tool, and never sends a bad call', () => {
      const [bad] = toolMessages(task);
      expect(errorOf(bad)).toMatchObject({ code: 'arguments_schema_violation' });
      expect(toolCalls(readTap(everythingTap), 'get-sum').some((entry) => entry.request.message.params.arguments.a === 'two')).toBe(false);
    });

    it('makes a result with isError: true the error message mcp_tool_error, with the tool’s text; the other calls go on', () => {
      const [, missing, outside, present] = toolMessages(task);
      expect(errorOf(missing)).toMatchObject({ code: 'mcp_tool_error', message: expect.stringContaining('ENOENT') });
      expect(errorOf(outside)).toMatchObject({ code: 'mcp_tool_error', message: expect.stringMatching(/access denied/i) });
      expect(JSON.parse(present.content)).toEqual({ content: 'here' });
      expect(task.status).toBe('completed');
    });
  });

  describe('when a long-running call reports progress', () => {
    it('turns each MCP progress notification into a tool_call.progress event of the task', async () => {
      const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'long', name: LONG, arguments: { duration: 1.2, steps: 4 } }]));
      const { events } = await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`, { timeoutMs: 20_000 });
      const progress = events.filter((event) => event.event === 'tool_call.progress').map(dataOf);
      expect(progress.map((data) => data.value)).toEqual([1, 2, 3, 4].map((step) => ({ progress: step, total: 4 })));
      expect(progress.every((data) => data.tool_call_id === 'long' && data.name === LONG)).toBe(true);
      const finished = events.findIndex((event) => event.event === 'tool_call.finished');
      expect(events.findLastIndex((event) => event.event === 'tool_call.progress')).toBeLessThan(finished);
    });
  });

  describe('when the task of a long-running call is cancelled', () => {
    let cancelAt: number;
    let task: any;
    let finished: Record<string, any> | undefined;
    let forever: ReturnType<typeof toolCalls>[number] | undefined;

    beforeAll(async () => {
      const { body } = await cluster.api.post('/v1/tasks', ask([{ id: 'forever', name: LONG, arguments: { duration: 30, steps: 30 } }]));
      // Its first progress event: the call is running inside the server.
      await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`, { until: (event) => event.event === 'tool_call.progress' });
      cancelAt = Date.now();
      expect((await cluster.api.post(`/v1/tasks/${body.id}/cancel`, {})).status).toBe(200);
      task = await cluster.api.waitForTask(body.id);
      // The worker's tool_call.finished may land after task.finished, where the SSE stream ends: read the stream itself.
      finished = await waitFor(async () => {
        const entries = (await cluster.client.xrange(taskEventsKey('volley', body.id), '-', '+')) as Array<[string, string[]]>;
        const entry = entries.find(([, fields]) => fields[1] === 'tool_call.finished');
        return entry ? (JSON.parse(entry[1][3]!) as Record<string, any>) : undefined;
      });
      forever = await waitFor(() =>
        toolCalls(readTap(everythingTap), 'trigger-long-running-operation').find(
          (entry) => entry.request.message.params.arguments.duration === 30 && entry.cancelled,
        ),
      );
    });

    it('ends the task cancelled and its call cancelled, long before the operation would have finished', () => {
      expect(task.status).toBe('cancelled');
      expect(finished).toMatchObject({ tool_call_id: 'forever', status: 'failed', error_code: 'cancelled' });
      expect(finished!.at - cancelAt).toBeLessThan(2_000);
      process.stdout.write(`[mcp] cancel → call answered cancelled: ${finished!.at - cancelAt} ms\n`);
    });

    it('sends notifications/cancelled for that request to the server, which never answers it', () => {
      expect(forever!.cancelled!.message.params.reason).toBeTruthy();
      const latency = forever!.cancelled!.at - cancelAt;
      expect(latency).toBeGreaterThanOrEqual(0);
      expect(latency).toBeLessThan(1_000);
      expect(forever!.response).toBeUndefined();
      process.stdout.write(`[mcp] cancel → notifications/cancelled at the server: ${latency} ms\n`);
    });
  });

  describe('when one message edits one file several times under a file:{path} rule', () => {
    let task: any;
    const notes = () => join(root, 'notes.txt');

    beforeAll(async () => {
      writeFileSync(notes(), 'v0\n');
      const edit = (id: string, from: string, to: string, path = notes()) => ({
        id,
        name: 'fs__edit_file',
        arguments: { path, edits: [{ oldText: from, newText: to }] },
      });
      writeFileSync(join(root, 'other.txt'), 'a\n');
      task = await runTask([
        edit('e1', 'v0', 'v1'),
        edit('o1', 'a', 'b', join(root, 'other.txt')),
        edit('e2', 'v1', 'v2'),
        { id: 'read', name: 'fs__read_text_file', arguments: { path: notes() } },
        edit('e3', 'v2', 'v3'),
        { id: 'w4', name: 'fs__write_file', arguments: { path: notes(), content: 'v4\n' } },
      ]);
    });

    it('runs every edit, each on the previous one’s text: model order', () => {
      expect(task.status).toBe('completed');
      const messages = toolMessages(task);
      for (const message of messages) expect(message.content, message.tool_call_id).not.toContain('"error"');
      // The read came between e2 and e3 in the message, so it saw v2.
      expect(JSON.parse(messages[3].content)).toEqual({ content: 'v2\n' });
      expect(readFileSync(notes(), 'utf8')).toBe('v4\n');
      expect(readFileSync(join(root, 'other.txt'), 'utf8')).toBe('b\n');
    });

    it('never had two calls on that path in the server at once, across two workers', () => {
      const onNotes = readTap(fsTap)
        .filter((entry) => entry.dir === 'in' && entry.message?.method === 'tools/call' && entry.message.params.arguments.path === notes())
        .map((request) => ({
          request,
          response: readTap(fsTap).find(
            (entry) => entry.dir === 'out' && entry.pid === request.pid && entry.message?.id === request.message.id && !('method' in entry.message),
          )!,
        }))
        .sort((a, b) => a.request.at - b.request.at);
      expect(onNotes).toHaveLength(5);
      expect(onNotes.map(({ request }) => request.message.params.name)).toEqual(['edit_file', 'edit_file', 'read_text_file', 'edit_file', 'write_file']);
      for (let index = 1; index < onNotes.length; index += 1) {
        expect(onNotes[index]!.request.at).toBeGreaterThanOrEqual(onNotes[index - 1]!.response.at);
      }
      const workers = new Set(task.turns[0].tool_calls.map((entry: any) => entry.worker_id));
      expect(workers.size).toBeGreaterThanOrEqual(1);
    });
  });

  describe('when POST /v1/tool-calls calls MCP tools without a model', () => {
    it('answers their tool messages', async () => {
      const { status, body } = await cluster.api.post('/v1/tool-calls', {
        message: assistant(call('a', 'everything__echo', { message: 'bare' }), call('b', 'everything__get-sum', { a: 1, b: 1 })),
      });
      expect(status).toBe(200);
      expect(body.messages.map((message: any) => message.content)).toEqual(['Echo: bare', expect.stringContaining('2')]);
    });
  });
});
