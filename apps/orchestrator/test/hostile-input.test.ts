import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { ERROR_STATUS } from '@volley/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

const KEY = `vk_${randomBytes(24).toString('hex')}`;
const MAX_DEPTH = 128;

/** `depth` arrays inside one another: `[[[…]]]`. */
const nestedText = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nested = (depth: number): unknown => JSON.parse(nestedText(depth));
const user = (content: unknown, extra: Record<string, unknown> = {}) => ({ role: 'user', content, ...extra });
const task = (...messages: unknown[]) => ({ messages });
const toolCall = (toolCalls: unknown[], extra: Record<string, unknown> = {}) => ({ message: { ...assistant(...toolCalls), ...extra } });
const DEEP_TEXT = nestedText(100_000);

/** A request as sent: JSON text (or raw bytes) with its content type, or no body. */
type Body = { json: unknown } | { text: string | Buffer; type?: string } | undefined;
type Case = [what: string, method: string, path: string, body: Body, expected: number | 'any-4xx' | 'accepted'];

const json = (value: unknown): Body => ({ json: value });
const text = (value: string | Buffer, type = 'application/json'): Body => ({ text: value, type });

/**
 * Hostile input at every route. Each case names the answer it must get: a status, `accepted`
 * (2xx: the body is odd but valid), or `any-4xx`. Whatever it is, it is never a 5xx, and every
 * 4xx is Volley's JSON error with a code from the table.
 */
const CASES: Case[] = [
  // Nesting: refused before it is parsed, wherever it sits.
  ['a 100,000-deep array as the body', 'POST', '/v1/tasks', text(DEEP_TEXT), 400],
  ['100,000 levels in an unknown message field', 'POST', '/v1/tasks', text(`{"messages":[{"role":"user","content":"hi","x":${DEEP_TEXT}}]}`), 400],
  ['100,000 levels in content parts', 'POST', '/v1/tasks', text(`{"messages":[{"role":"user","content":[{"type":"text","x":${DEEP_TEXT}}]}]}`), 400],
  ['100,000 levels beside a tool call', 'POST', '/v1/tool-calls', text(`{"message":{"role":"assistant","tool_calls":[],"x":${DEEP_TEXT}}}`), 400],
  ['100,000 levels of objects', 'POST', '/v1/tool-calls', text(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`), 400],
  ['100,000 levels sent to cancel', 'POST', '/v1/tasks/some-task/cancel', text(DEEP_TEXT), 400],
  // The body, `messages` and the message are 3 levels: 125 more reach the bound, 126 pass it.
  ['one level past the bound', 'POST', '/v1/tasks', json(task(user('hi', { x: nested(MAX_DEPTH - 2) }))), 400],
  ['at the bound', 'POST', '/v1/tasks', json(task(user('hi', { x: nested(MAX_DEPTH - 3) }))), 'accepted'],
  ['brackets inside a string', 'POST', '/v1/tasks', json(task(user('['.repeat(100_000)))), 'accepted'],
  // Prototype poisoning: Fastify's secure-json-parse refusal is kept.
  ['a __proto__ key', 'POST', '/v1/tasks', text('{"__proto__":{"polluted":true},"messages":[{"role":"user","content":"hi"}]}'), 400],
  ['a nested __proto__ key', 'POST', '/v1/tool-calls', text('{"message":{"role":"assistant","__proto__":{"x":1},"tool_calls":[]}}'), 400],
  ['constructor.prototype', 'POST', '/v1/tasks', text('{"messages":[{"role":"user","content":"hi","constructor":{"prototype":{"x":1}}}]}'), 400],
  // Not an object at all.
  ...(['null', '[]', '"a string"', '42', 'true', '[{"role":"user","content":"hi"}]'] as const).flatMap((body): Case[] => [
    [`${body} as the task body`, 'POST', '/v1/tasks', text(body), 400],
    [`${body} as the tool-calls body`, 'POST', '/v1/tool-calls', text(body), 400],
  ]),
  ['an empty JSON body', 'POST', '/v1/tasks', text(''), 400],
  ['truncated JSON', 'POST', '/v1/tool-calls', text('{"message": {"role": "assistant", "tool_calls": [{'), 400],
  ['a NUL byte in JSON', 'POST', '/v1/tasks', text('{"messages":\u0000[]}'), 400],
  [
    'invalid UTF-8 in a string',
    'POST',
    '/v1/tasks',
    text(Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}')])),
    'accepted',
  ],
  ['a byte-order mark', 'POST', '/v1/tasks', text('\ufeff{"messages":[{"role":"user","content":"hi"}]}'), 'accepted'],
  ['form data', 'POST', '/v1/tasks', text('messages=hi', 'application/x-www-form-urlencoded'), 415],
  ['an unknown JSON-ish type', 'POST', '/v1/tasks', text('{}', 'application/vnd.volley+json'), 415],
  ['a bad media type', 'POST', '/v1/tasks', text('{}', '{{}}'), 415],
  // Numbers.
  ['max_turns 1e400 (Infinity)', 'POST', '/v1/tasks', text('{"messages":[{"role":"user","content":"hi"}],"max_turns":1e400}'), 400],
  ['max_turns of 400 digits', 'POST', '/v1/tasks', text(`{"messages":[{"role":"user","content":"hi"}],"max_turns":${'9'.repeat(400)}}`), 400],
  ['max_turns -0', 'POST', '/v1/tasks', text('{"messages":[{"role":"user","content":"hi"}],"max_turns":-0}'), 400],
  ['max_turns 1.5', 'POST', '/v1/tasks', json({ ...task(user('hi')), max_turns: 1.5 }), 400],
  ['timeout_ms 1e400', 'POST', '/v1/tool-calls', text(`{"message":${JSON.stringify(assistant(call('a', 'nap', { ms: 1 })))},"timeout_ms":1e400}`), 400],
  ['1e400 in an unknown field', 'POST', '/v1/tasks', text('{"messages":[{"role":"user","content":"hi","x":1e400}]}'), 'accepted'],
  // Strings: lone surrogates, emoji, very long.
  ['a lone surrogate in content', 'POST', '/v1/tasks', text('{"messages":[{"role":"user","content":"\\ud800 and \\udfff"}]}'), 'accepted'],
  ['a lone surrogate as a tool name', 'POST', '/v1/tasks', text('{"messages":[{"role":"user","content":"hi"}],"tools":["\\ud800"]}'), 400],
  ['a lone surrogate as a model', 'POST', '/v1/tasks', text('{"messages":[{"role":"user","content":"hi"}],"model":"\\udfff"}'), 'accepted'],
  ['an emoji tool name', 'POST', '/v1/tasks', json({ ...task(user('hi')), tools: ['🔧🔥'] }), 400],
  ['a 100,000-character tool name', 'POST', '/v1/tasks', json({ ...task(user('hi')), tools: ['t'.repeat(100_000)] }), 400],
  ['an emoji call', 'POST', '/v1/tool-calls', json(toolCall([call('🔧', '🔥', { '🔑': '🗝️' })])), 'accepted'],
  [
    'a lone surrogate in a call',
    'POST',
    '/v1/tool-calls',
    text(
      `{"message":{"role":"assistant","tool_calls":[{"id":"\\ud800","type":"function","function":{"name":"\\udfff","arguments":"{\\"ms\\":\\"\\ud800\\"}"}}]}}`,
    ),
    'accepted',
  ],
  ['a 1 MB tool call id', 'POST', '/v1/tool-calls', json(toolCall([call('i'.repeat(1_000_000), 'nap', { ms: 1 })])), 'accepted'],
  ['arguments nested in their string', 'POST', '/v1/tool-calls', json(toolCall([call('a', 'nap', DEEP_TEXT)])), 'accepted'],
  ['arguments that are not JSON', 'POST', '/v1/tool-calls', json(toolCall([call('a', 'nap', '{"ms":')])), 'accepted'],
  // Wrong types everywhere.
  ['content a number', 'POST', '/v1/tasks', json(task(user(5))), 400],
  ['role a number', 'POST', '/v1/tasks', json(task({ role: 5, content: 'hi' })), 400],
  ['no role', 'POST', '/v1/tasks', json(task({ content: 'hi' })), 400],
  ['a message null', 'POST', '/v1/tasks', json(task(null)), 400],
  ['messages an object', 'POST', '/v1/tasks', json({ messages: { 0: user('hi') } }), 400],
  ['tools of numbers', 'POST', '/v1/tasks', json({ ...task(user('hi')), tools: [1, 2] }), 400],
  ['model empty', 'POST', '/v1/tasks', json({ ...task(user('hi')), model: '' }), 400],
  ['model an object', 'POST', '/v1/tasks', json({ ...task(user('hi')), model: {} }), 400],
  ['parallel_tool_calls a string', 'POST', '/v1/tasks', json({ ...task(user('hi')), parallel_tool_calls: 'yes' }), 400],
  ['execution unknown', 'POST', '/v1/tasks', json({ ...task(user('hi')), execution: 'warp' }), 400],
  ['tool_calls on a user message', 'POST', '/v1/tasks', json(task(user('hi', { tool_calls: 'x' }))), 'accepted'],
  ['an assistant message with broken tool_calls', 'POST', '/v1/tasks', json(task(user('hi'), { role: 'assistant', tool_calls: [{ id: 1 }] })), 400],
  ['a tool message without its call id', 'POST', '/v1/tasks', json(task(user('hi'), { role: 'tool', content: 'x' })), 400],
  ['message null', 'POST', '/v1/tool-calls', json({ message: null }), 400],
  ['message an array', 'POST', '/v1/tool-calls', json({ message: [] }), 400],
  ['a user message for tool-calls', 'POST', '/v1/tool-calls', json({ message: user('hi', { tool_calls: [call('a', 'nap')] }) }), 400],
  ['tool_calls a string', 'POST', '/v1/tool-calls', json(toolCall([], { tool_calls: 'x' })), 400],
  ['a tool call null', 'POST', '/v1/tool-calls', json(toolCall([null])), 400],
  ['function null', 'POST', '/v1/tool-calls', json(toolCall([{ id: 'a', type: 'function', function: null }])), 400],
  ['arguments a number', 'POST', '/v1/tool-calls', json(toolCall([{ id: 'a', type: 'function', function: { name: 'nap', arguments: 5 } }])), 400],
  ['type not function', 'POST', '/v1/tool-calls', json(toolCall([{ ...call('a', 'nap'), type: 'code' }])), 400],
  ['timeout_ms a string', 'POST', '/v1/tool-calls', json({ ...toolCall([call('a', 'nap')]), timeout_ms: '5' }), 400],
  ['an unknown top-level field', 'POST', '/v1/tool-calls', json({ ...toolCall([call('a', 'nap')]), extra: 1 }), 400],
  // Paths and ids.
  ['an unknown task', 'GET', '/v1/tasks/no-such-task', undefined, 404],
  ['a 100-character id', 'GET', `/v1/tasks/${'i'.repeat(100)}`, undefined, 404],
  ['a 101-character id', 'GET', `/v1/tasks/${'i'.repeat(101)}`, undefined, 400],
  ['a 300-character id to cancel', 'POST', `/v1/tasks/${'i'.repeat(300)}/cancel`, undefined, 400],
  ['a 20,000-character id', 'GET', `/v1/tasks/${'i'.repeat(20_000)}`, undefined, 431],
  ['an id that does not decode', 'GET', '/v1/tasks/%ZZ', undefined, 400],
  ['an id of a lone surrogate, encoded', 'GET', '/v1/tasks/%ED%A0%80', undefined, 'any-4xx'],
  ['an id of a NUL', 'GET', '/v1/tasks/%00', undefined, 404],
  ['an id with CR LF and a command', 'GET', '/v1/tasks/x%0D%0AFLUSHALL%0D%0A', undefined, 404],
  ['an id of dots and slashes', 'GET', '/v1/tasks/..%2F..%2Fetc%2Fpasswd', undefined, 404],
  ['an emoji id', 'GET', `/v1/tasks/${encodeURIComponent('🔧')}`, undefined, 404],
  ['an emoji id to cancel', 'POST', `/v1/tasks/${encodeURIComponent('🔧')}/cancel`, undefined, 404],
  ['a poisoned query string', 'GET', '/v1/tools?__proto__[polluted]=1&constructor[prototype][x]=1', undefined, 'accepted'],
  ['tools with a body', 'POST', '/v1/tools', json({}), 404],
  ['an unknown route with a deep body', 'POST', '/v1/nothing', text(DEEP_TEXT), 'any-4xx'],
  // The OpenAI-compatible routes: the same refusals, in OpenAI's error shape.
  ['a deep chat completion', 'POST', '/v1/chat/completions', text(DEEP_TEXT), 400],
  ['a deep response request', 'POST', '/v1/responses', text(`{"input":${DEEP_TEXT}}`), 400],
  ['chat messages a string', 'POST', '/v1/chat/completions', json({ model: 'm', messages: 'hi' }), 400],
  ['chat tools of numbers', 'POST', '/v1/chat/completions', json({ model: 'm', messages: [user('hi')], tools: [1] }), 400],
  [
    'an emoji function name',
    'POST',
    '/v1/chat/completions',
    json({ model: 'm', messages: [user('hi')], tools: [{ type: 'function', function: { name: '🔧' } }] }),
    400,
  ],
  [
    'a function without its name',
    'POST',
    '/v1/chat/completions',
    json({ model: 'm', messages: [user('hi')], tools: [{ type: 'function', function: {} }] }),
    400,
  ],
  ['n 1e400', 'POST', '/v1/chat/completions', text('{"model":"m","messages":[{"role":"user","content":"hi"}],"n":1e400}'), 400],
  ['a __proto__ in a chat body', 'POST', '/v1/chat/completions', text('{"model":"m","__proto__":{"x":1},"messages":[{"role":"user","content":"hi"}]}'), 400],
  ['a lone surrogate in chat content', 'POST', '/v1/chat/completions', text('{"model":"m","messages":[{"role":"user","content":"\\ud800"}]}'), 'accepted'],
  ['input a number', 'POST', '/v1/responses', json({ model: 'm', input: 5 }), 400],
  ['an empty input', 'POST', '/v1/responses', json({ model: 'm', input: [] }), 400],
  ['an input item of an unknown type', 'POST', '/v1/responses', json({ model: 'm', input: [{ type: 'item_reference', id: 'x' }] }), 400],
  ['a function_call_output without its call', 'POST', '/v1/responses', json({ model: 'm', input: [{ type: 'function_call_output', output: 'x' }] }), 400],
  ['a previous response of another shape', 'POST', '/v1/responses', json({ model: 'm', input: 'hi', previous_response_id: '../../x' }), 404],
  ['an unknown response', 'GET', '/v1/responses/resp_%00', undefined, 404],
];

/** Routes that answer errors in OpenAI's shape, `{error: {message, type, param, code}}`. */
const OPENAI_SHAPED = ['/v1/chat/completions', '/v1/responses'];

describe('hostile input', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 1,
      orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme`, VOLLEY_MAX_BODY_DEPTH: String(MAX_DEPTH), VOLLEY_TASK_RATE_LIMIT: '0' },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const send = async (method: string, path: string, body: Body, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body && 'json' in body) {
      init.headers = { ...headers, 'content-type': 'application/json' };
      init.body = JSON.stringify(body.json);
    } else if (body) {
      init.headers = { ...headers, 'content-type': body.type ?? 'application/json' };
      init.body = body.text;
    }
    const response = await fetch(`${cluster.api.baseUrl}${path}`, init);
    const raw = await response.text();
    let parsed: any;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = { notJson: raw.slice(0, 200) };
    }
    return { status: response.status, body: parsed, contentType: response.headers.get('content-type') ?? '' };
  };

  const expectVolleyError = (answer: Awaited<ReturnType<typeof send>>, path: string) => {
    expect(answer.contentType).toMatch(/^application\/json/);
    const openAIShaped = OPENAI_SHAPED.some((prefix) => path.startsWith(prefix));
    const extra = openAIShaped ? { type: expect.any(String), param: null } : {};
    expect(answer.body).toEqual({ error: { code: expect.any(String), message: expect.any(String), ...extra } });
    expect(Object.keys(ERROR_STATUS)).toContain(answer.body.error.code);
    expect(ERROR_STATUS[answer.body.error.code as keyof typeof ERROR_STATUS]).toBe(answer.status);
  };

  describe('when each route gets hostile bodies, paths and ids', () => {
    const accepted: string[] = [];

    it.each(CASES)('%s (%s %s) → %s', async (_what, method, path, body, expected) => {
      const answer = await send(method, path, body);
      expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBeLessThan(500);
      if (expected === 'accepted') {
        expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBeLessThan(300);
        if (path === '/v1/tasks') accepted.push(answer.body.id);
        return;
      }
      expectVolleyError(answer, path);
      if (expected === 'any-4xx') expect(answer.status).toBeGreaterThanOrEqual(400);
      else expect(answer.status).toBe(expected);
    });

    it('names the bound when refusing depth', async () => {
      const answer = await send('POST', '/v1/tasks', text(DEEP_TEXT));
      expect(answer.body.error).toEqual({ code: 'invalid_request', message: expect.stringMatching(/nested deeper than 128 levels/) });
    });

    it('runs the odd but valid tasks to their end', async () => {
      expect(accepted.length).toBeGreaterThan(0);
      for (const id of accepted) {
        const finished = await cluster.api.withHeaders({ authorization: `Bearer ${KEY}` }).waitForTask(id, 30_000);
        expect(finished.status, `${id}: ${JSON.stringify(finished.error)}`).toBe('completed');
      }
    });
  });

  describe('when the credentials themselves are hostile', () => {
    it.each([
      ['no key', {}],
      ['an empty bearer', { authorization: 'Bearer ' }],
      ['a latin-1 key', { authorization: 'Bearer ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ' }],
      ['a 12 KB key', { authorization: `Bearer ${'k'.repeat(12_000)}` }],
      ['two schemes', { authorization: `Basic ${KEY} Bearer ${KEY}` }],
      ['a broken Basic', { authorization: 'Basic !!!not-base64' }],
      ['an x-api-key of spaces', { 'x-api-key': '                ' }],
    ])('answers %s with 401 unauthorized', async (_what, headers) => {
      const answer = await send('POST', '/v1/tasks', json(task(user('hi'))), headers as Record<string, string>);
      expect(answer.status).toBe(401);
      expectVolleyError(answer, '/v1/tasks');
    });

    it('answers a broken Basic on the dashboard with 401 too', async () => {
      const answer = await send('GET', '/admin/queues/api/queues', undefined, { authorization: 'Basic %%%' });
      expect(answer.status).toBe(401);
      expectVolleyError(answer, '/admin/queues');
    });
  });

  describe('when the HTTP itself is malformed', () => {
    /** Writes `request` on a raw socket and reads until the server closes it. */
    const rawExchange = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const { port } = new URL(cluster.api.baseUrl);
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk) => {
          answer += chunk;
        });
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
        socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(request.slice(0, 40))}`)));
      });

    it.each([
      ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 400],
      ['broken chunked framing', 'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n', 400],
      ['both a length and chunks', 'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['a length that is not a number', 'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400],
      ['a control character in a header', 'GET /v1/tools HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n', 400],
      ['20 KB of headers', `GET /v1/tools HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ])('answers %s with %i and a JSON error', async (_what, request, status) => {
      const answer = await rawExchange(request);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(head).toMatch(/content-type: application\/json/i);
      const error = JSON.parse(body) as { error: { code: keyof typeof ERROR_STATUS; message: string } };
      expect(ERROR_STATUS[error.error.code]).toBe(status);
    });
  });

  describe('after all that', () => {
    it('is alive, ready, logged no error of its own, and Object.prototype is clean', async () => {
      expect((await send('GET', '/healthz', undefined)).status).toBe(200);
      expect((await send('GET', '/readyz', undefined)).status).toBe(200);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(cluster.orchestrators[0]!.lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
    });
  });
});
