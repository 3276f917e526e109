import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { waitFor } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
import { workerTotal } from './support/worker-metrics.ts';

const EVENT_TOOLS = fileURLToPath(new URL('./fixtures/event-tools.ts', import.meta.url));
const APPROVAL_TOOLS = fileURLToPath(new URL('./fixtures/approval-tools.ts', import.meta.url));
const newKey = () => `vk_${randomBytes(24).toString('hex')}`;
const KEYS = { acme: newKey(), globex: newKey() };
/** globex may use two tools; acme, named nowhere, every tool. */
const GLOBEX_TOOLS = ['get_weather', 'nap'];

type Nap = { label: string | null; started: number; finished: number; worker: string };
const MAX_DEPTH = 64;
const ACCEPT = 'application/json, text/event-stream';

describe('Volley as an MCP server (/mcp)', () => {
  let cluster: Cluster;
  let redis: Redis;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  const clients: Client[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50' };
    cluster = await startCluster({
      workers: 2,
      orchestrators: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS, EVENT_TOOLS, APPROVAL_TOOLS],
      workerEnv: otel,
      orchestratorEnv: {
        ...otel,
        VOLLEY_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex`,
        VOLLEY_TENANT_TOOLS: `globex=${GLOBEX_TOOLS.join('|')}`,
        VOLLEY_MAX_BODY_DEPTH: String(MAX_DEPTH),
      },
    });
    redis = cluster.client;
  });

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((client) => client.close()));
  });

  afterAll(async () => {
    await cluster?.stop();
    await receiver?.close();
  });

  /**
   * The SDK's own client over its Streamable HTTP transport, the key as a bearer token. With
   * `alternate`, consecutive HTTP requests go to the orchestrators in turn (no affinity at all),
   * and `served` counts the requests each one got.
   */
  async function connect(key: string, options: { alternate?: boolean } = {}) {
    const served = cluster.apis.map(() => 0);
    let next = 0;
    const first = cluster.apis[0]!.baseUrl;
    const transport = new StreamableHTTPClientTransport(new URL(`${first}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
      fetch: (url, init) => {
        const index = options.alternate ? next++ % cluster.apis.length : 0;
        served[index]! += 1;
        return fetch(String(url).replace(first, cluster.apis[index]!.baseUrl), init);
      },
    });
    const client = new Client({ name: 'volley-test-host', version: '1.0.0' });
    clients.push(client);
    await client.connect(transport);
    return { client, served };
  }

  const textOf = (result: CallToolResult) => (result.content as Array<{ type: string; text: string }>)[0]!.text;

  describe('when a host lists tools', () => {
    it("answers the caller's tools only, with annotations from their side effects", async () => {
      const { client: acme } = await connect(KEYS.acme);
      const { client: globex } = await connect(KEYS.globex);

      const all = (await acme.listTools()).tools;
      const names = all.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(['get_weather', 'nap', 'explode', 'report_progress', 'mark', 'ledger_append']));
      const weather = all.find((tool) => tool.name === 'get_weather')!;
      expect(weather.description).toMatch(/weather/i);
      expect(weather.inputSchema).toMatchObject({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] });
      expect(weather.annotations).toEqual({ readOnlyHint: true });
      expect(all.find((tool) => tool.name === 'ledger_append')!.annotations).toEqual({ readOnlyHint: false, destructiveHint: true });

      expect((await globex.listTools()).tools.map((tool) => tool.name).sort()).toEqual(GLOBEX_TOOLS);
    });
  });

  describe('when a host calls a tool', () => {
    it('runs it on a worker and answers its result as text and structured content', async () => {
      const { client } = await connect(KEYS.acme);
      const result = (await client.callTool({ name: 'get_weather', arguments: { city: 'Paris' } })) as CallToolResult;

      expect(result.isError).toBeUndefined();
      expect(result.structuredContent).toMatchObject({ city: 'Paris', unit: 'celsius', source: 'demo data' });
      expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
      expect(result._meta?.['volley/call']).toMatchObject({ status: 'succeeded', pool: 'default', attempts: 1, worker_id: expect.stringMatching(/^worker-/) });
    });

    it('answers a failing tool, or arguments that fail its schema, as an error result the model can read', async () => {
      const { client } = await connect(KEYS.acme);
      const failed = (await client.callTool({ name: 'explode', arguments: {} })) as CallToolResult;
      expect(failed.isError).toBe(true);
      expect(JSON.parse(textOf(failed))).toEqual({ error: { code: 'tool_error', message: 'boom: the tool failed on purpose', hint: 'The tool failed.' } });
      expect(failed).not.toHaveProperty('structuredContent');

      const invalid = (await client.callTool({ name: 'nap', arguments: { ms: 'soon' } })) as CallToolResult;
      expect(invalid.isError).toBe(true);
      expect(JSON.parse(textOf(invalid)).error.code).toBe('arguments_schema_violation');
    });

    it('refuses a tool no worker serves, or one the caller may not use, as unknown (a protocol error)', async () => {
      const { client: globex } = await connect(KEYS.globex);
      for (const name of ['explode', 'no_such_tool']) {
        const error = await globex.callTool({ name, arguments: {} }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(McpError);
        expect((error as McpError).code).toBe(ErrorCode.InvalidParams);
        expect((error as McpError).message).toContain(`Unknown tool: ${name}`);
      }
      const allowed = (await globex.callTool({ name: 'nap', arguments: { ms: 1 } })) as CallToolResult;
      expect(allowed.isError).toBeUndefined();
    });
  });

  describe('when a tool needs approval', () => {
    it('says so in the list, and refuses the call it cannot approve without running it', async () => {
      const { client } = await connect(KEYS.acme);
      const tools = (await client.listTools()).tools;
      expect(tools.find((tool) => tool.name === 'guarded_write')!._meta).toEqual({ 'volley/needs_approval': true });
      expect(tools.find((tool) => tool.name === 'spend')!._meta).toEqual({ 'volley/needs_approval': 'dynamic' });

      const refused = (await client.callTool({ name: 'guarded_write', arguments: { key: 'mcp:rec', label: 'mcp-guarded' } })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect(JSON.parse(textOf(refused)).error.code).toBe('approval_required');
      const small = (await client.callTool({ name: 'spend', arguments: { label: 'mcp-small', amount: 5 } })) as CallToolResult;
      expect(small.isError).toBeUndefined();
      const runs = (await redis.lrange('test:runs', 0, -1)).map((line) => JSON.parse(line).label);
      expect(runs).toContain('mcp-small');
      expect(runs).not.toContain('mcp-guarded');
    });
  });

  describe('when a host makes several calls at once', () => {
    it('runs them at the same time on the workers', async () => {
      const { client } = await connect(KEYS.acme);
      const startedAt = Date.now();
      const results = await Promise.all(
        [1, 2, 3, 4].map((n) => client.callTool({ name: 'nap', arguments: { ms: 600, label: `p${n}` } }) as Promise<CallToolResult>),
      );
      const elapsed = Date.now() - startedAt;

      const naps = results.map((result) => result.structuredContent as Nap);
      expect(naps.map((nap) => nap.label)).toEqual(['p1', 'p2', 'p3', 'p4']);
      // Every call started before any finished: all four ran at once.
      expect(Math.max(...naps.map((nap) => nap.started))).toBeLessThan(Math.min(...naps.map((nap) => nap.finished)));
      expect(new Set(naps.map((nap) => nap.worker)).size).toBeGreaterThanOrEqual(1);
      expect(elapsed).toBeLessThan(2 * 600);
    });
  });

  describe('when a host asks for progress', () => {
    it("sends the tool's progress reports as notifications, in order, while it runs and before the result", async () => {
      const { client } = await connect(KEYS.acme);
      const seen: Array<Progress & { at: number }> = [];
      const result = (await client.callTool({ name: 'report_progress', arguments: { steps: 4, ms: 300 } }, undefined, {
        onprogress: (progress) => seen.push({ ...progress, at: Date.now() }),
      })) as CallToolResult;
      const answeredAt = Date.now();

      expect(result.structuredContent).toEqual({ steps: 4 });
      expect(seen.map(({ progress, message }) => ({ progress, message }))).toEqual(
        [1, 2, 3, 4].map((step) => ({ progress: step, message: JSON.stringify({ step, of: 4 }) })),
      );
      // The first came while the tool still had three steps to go, not in a burst at the end.
      expect(answeredAt - seen[0]!.at).toBeGreaterThanOrEqual(600);
      expect(seen.every((progress) => progress.at <= answeredAt)).toBe(true);
    });
  });

  describe('when a host cancels a call', () => {
    it('cancels it on the worker when the host aborts it (notifications/cancelled)', async () => {
      const { client } = await connect(KEYS.acme);
      await expectCancelledOnWorker(client, 'mcp-abort');
    });

    it('cancels it on the worker when the request goes away (the host closes)', async () => {
      const { client } = await connect(KEYS.acme);
      const cancelledBefore = await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' });
      const call = client.callTool({ name: 'mark', arguments: { label: 'mcp-close', ms: 10_000 } }).catch((error: unknown) => error);
      await waitFor(async () => (await redis.llen('test:marks:mcp-close')) > 0);
      await client.close();

      expect(await call).toBeInstanceOf(Error);
      await waitFor(async () => (await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' })) > cancelledBefore, {
        timeoutMs: 3_000,
        message: 'the call was not cancelled on its worker',
      });
      expect(await redis.llen('test:done:mcp-close')).toBe(0);
    });
  });

  describe('when the key is missing or wrong', () => {
    it('refuses the host with 401, which the SDK client reports', async () => {
      for (const headers of [{ authorization: `Bearer ${newKey()}` }, {}]) {
        const transport = new StreamableHTTPClientTransport(new URL(`${cluster.api.baseUrl}/mcp`), { requestInit: { headers } });
        const client = new Client({ name: 'volley-test-host', version: '1.0.0' });
        const error = await client.connect(transport).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StreamableHTTPError);
        expect((error as StreamableHTTPError).code).toBe(401);
        expect((error as Error).message).toMatch(/invalid API key|API key is required/);
      }
      const response = await fetch(`${cluster.api.baseUrl}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="volley"');
      expect(await response.json()).toEqual({
        jsonrpc: '2.0',
        error: { code: -32000, message: expect.stringMatching(/API key is required/), data: { code: 'unauthorized' } },
        id: null,
      });
    });
  });

  describe('when orchestrators are many and nothing routes a host to one of them', () => {
    it('lists, calls, reports progress and cancels with every request on the next instance', async () => {
      const { client, served } = await connect(KEYS.acme, { alternate: true });
      expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('nap');
      const results = (await Promise.all([1, 2, 3].map((n) => client.callTool({ name: 'nap', arguments: { ms: 50, label: `a${n}` } })))) as CallToolResult[];
      expect(results.map((result) => (result.structuredContent as Nap).label)).toEqual(['a1', 'a2', 'a3']);
      const progress: Progress[] = [];
      await client.callTool({ name: 'report_progress', arguments: { steps: 2, ms: 150 } }, undefined, { onprogress: (value) => progress.push(value) });
      expect(progress.map((value) => value.progress)).toEqual([1, 2]);
      // The call goes to one instance, its cancel to the other.
      await expectCancelledOnWorker(client, 'mcp-abort-elsewhere');
      expect(served.every((count) => count >= 3)).toBe(true);
    });
  });

  describe('when a host carries its trace', () => {
    it("puts the call's span, its fan-out and its tool run in the host's trace (traceparent in _meta)", async () => {
      const { client } = await connect(KEYS.acme);
      const traceId = randomBytes(16).toString('hex');
      const parentId = randomBytes(8).toString('hex');
      await client.callTool({ name: 'nap', arguments: { ms: 1, label: 'traced' }, _meta: { traceparent: `00-${traceId}-${parentId}-01` } });

      const spans = await waitFor(() => {
        const inTrace = receiver.spans.filter((span) => span.traceId === traceId);
        return inTrace.some((span) => span.name === 'execute_tool nap') && inTrace.some((span) => span.name === 'tools/call nap') ? inTrace : undefined;
      });
      const call = spans.find((span) => span.name === 'tools/call nap')!;
      expect(call.parentSpanId).toBe(parentId);
      expect(call.kind).toBe(2); // SERVER
      expect(call.attributes).toMatchObject({
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': 'nap',
        'gen_ai.operation.name': 'execute_tool',
        'jsonrpc.request.id': expect.any(String),
        'mcp.protocol.version': '2025-11-25',
      });
      const byId = new Map(spans.map((span) => [span.spanId, span]));
      const ancestors = (span: (typeof spans)[number]) => {
        const names: string[] = [];
        for (let at = byId.get(span.parentSpanId ?? ''); at; at = byId.get(at.parentSpanId ?? '')) names.push(at.name);
        return names;
      };
      expect(ancestors(spans.find((span) => span.name === 'execute_tool nap')!)).toEqual(['fan_out 1 tool calls', 'tools/call nap']);
    });

    it('marks a failed call on its span', async () => {
      const { client } = await connect(KEYS.acme);
      const traceId = randomBytes(16).toString('hex');
      await client.callTool({ name: 'explode', arguments: {}, _meta: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
      const call = await waitFor(() => receiver.spans.find((span) => span.traceId === traceId && span.name === 'tools/call explode'));
      expect(call.attributes['error.type']).toBe('tool_error');
      expect(call.status.code).toBe(2); // ERROR
    });
  });

  describe('when a host speaks plain HTTP to /mcp', () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${cluster.api.baseUrl}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', accept: ACCEPT, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const initialize = (protocolVersion: string) => ({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
    });

    it.each(['2025-11-25', '2025-06-18', '2025-03-26'])('speaks revision %s when a host asks for it', async (revision) => {
      const response = await post(initialize(revision));
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(`"protocolVersion":"${revision}"`);
    });

    it('answers initialize with a session id and no state behind it', async () => {
      const response = await post(initialize('2025-11-25'));
      expect(response.status).toBe(200);
      const session = response.headers.get('mcp-session-id');
      expect(session).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(await response.text()).toContain('"serverInfo":{"name":"volley"');
      // Another instance, which never saw that session, serves a request in it.
      const other = await fetch(`${cluster.apis[1]!.baseUrl}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${KEYS.acme}`,
          'content-type': 'application/json',
          accept: ACCEPT,
          'mcp-session-id': session!,
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(other.status).toBe(200);
      expect(await other.text()).toContain('"name":"get_weather"');
    });

    it('refuses GET and DELETE, which a stateless server has no use for, with 405', async () => {
      for (const method of ['GET', 'DELETE']) {
        const response = await fetch(`${cluster.api.baseUrl}/mcp`, { method, headers: { authorization: `Bearer ${KEYS.acme}`, accept: 'text/event-stream' } });
        expect(response.status).toBe(405);
        expect(response.headers.get('allow')).toBe('POST');
        expect(((await response.json()) as { error: unknown }).error).toMatchObject({ code: -32000, data: { code: 'method_not_allowed' } });
      }
    });

    it.each([
      ['a 100,000-deep body', '['.repeat(100_000) + ']'.repeat(100_000), 400, 'invalid_request'],
      [
        'arguments past the depth bound',
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'nap', arguments: { x: JSON.parse('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH)) } } },
        400,
        'invalid_request',
      ],
      ['a __proto__ key', '{"jsonrpc":"2.0","id":3,"method":"tools/list","__proto__":{"x":1}}', 400, 'invalid_json'],
      ['truncated JSON', '{"jsonrpc":"2.0","id":4,"meth', 400, 'invalid_json'],
      ['a session id of spaces', [{ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { 'mcp-session-id': 'a b' }], 400, 'invalid_request'],
      ['form data', ['method=tools/list', { 'content-type': 'application/x-www-form-urlencoded' }], 415, 'unsupported_media_type'],
    ] as const)('refuses %s before the MCP server sees it, in JSON-RPC shape', async (_what, body, status, code) => {
      const [payload, headers] = Array.isArray(body) ? body : [body, {}];
      const response = await post(payload, headers as Record<string, string>);
      expect(response.status).toBe(status);
      const answer = await response.json();
      expect(answer).toEqual({ jsonrpc: '2.0', error: { code: expect.any(Number), message: expect.any(String), data: { code } }, id: null });
    });

    it.each([
      ['null', 'null'],
      ['a string', '"tools/list"'],
      ['a message without a method', '{"jsonrpc":"2.0","id":6}'],
      ['an unknown protocol revision', [{ jsonrpc: '2.0', id: 7, method: 'tools/list' }, { 'mcp-protocol-version': '1999-01-01' }]],
      ['no Accept', [{ jsonrpc: '2.0', id: 8, method: 'tools/list' }, { accept: 'application/json' }]],
    ] as const)('answers %s with a 4xx from the MCP transport', async (_what, body) => {
      const [payload, headers] = Array.isArray(body) ? body : [body, {}];
      const response = await post(payload, headers as Record<string, string>);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(((await response.json()) as { jsonrpc: string }).jsonrpc).toBe('2.0');
    });

    it.each([
      // The SDK's own request parsing refuses it, as an internal error, before any handler runs.
      ['arguments that are not an object', { name: 'nap', arguments: 5 }, ErrorCode.InternalError],
      ['a megabyte tool name', { name: 't'.repeat(1_000_000) }, ErrorCode.InvalidParams],
      ['an unknown method', undefined, ErrorCode.MethodNotFound],
    ] as const)('answers a request with %s as a JSON-RPC error', async (_what, params, code) => {
      const response = await post({ jsonrpc: '2.0', id: 9, method: params ? 'tools/call' : 'tools/fly', params: params ?? {} });
      expect(response.status).toBe(200);
      const text = await response.text();
      const data = text.split('\n').find((line) => line.startsWith('data: '))!;
      expect(JSON.parse(data.slice('data: '.length))).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code } });
    });
  });

  /** Starts a long `mark` call, aborts it once its tool runs, and waits for its worker to answer it `cancelled`. */
  async function expectCancelledOnWorker(client: Client, label: string) {
    const cancelledBefore = await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' });
    const abort = new AbortController();
    const call = client.callTool({ name: 'mark', arguments: { label, ms: 10_000 } }, undefined, { signal: abort.signal }).catch((error: unknown) => error);
    await waitFor(async () => (await redis.llen(`test:marks:${label}`)) > 0);
    const abortedAt = Date.now();
    abort.abort('the user changed their mind');

    expect(await call).toBeInstanceOf(McpError);
    await waitFor(async () => (await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' })) > cancelledBefore, {
      timeoutMs: 3_000,
      message: 'the call was not cancelled on its worker',
    });
    expect(Date.now() - abortedAt).toBeLessThan(2_000);
    expect(await redis.llen(`test:done:${label}`)).toBe(0);
  }
});
