import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';

const call = (id: string, name = 'nap', args = '{"ms": 1}') => ({ id, type: 'function', function: { name, arguments: args } });
const assistant = (toolCalls: unknown) => ({ role: 'assistant', content: null, tool_calls: toolCalls });

describe('HTTP input', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, orchestratorEnv: { VOLLEY_BODY_LIMIT_BYTES: String(64 * 1024) } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when the body is not what a route takes', () => {
    const cases: Array<[string, string, string, unknown, number, string, RegExp?]> = [
      ['POST', '/v1/tasks', 'no messages', {}, 400, 'invalid_request', /messages/],
      ['POST', '/v1/tasks', 'messages not an array', { messages: 'hello' }, 400, 'invalid_request', /messages/],
      ['POST', '/v1/tasks', 'no message at all', { messages: [] }, 400, 'invalid_request', /messages/],
      ['POST', '/v1/tasks', 'unknown role', { messages: [{ role: 'robot', content: 'hi' }] }, 400, 'invalid_request', /messages\.0/],
      ['POST', '/v1/tasks', 'max_turns 0', { messages: [{ role: 'user', content: 'hi' }], max_turns: 0 }, 400, 'invalid_request', /max_turns/],
      ['POST', '/v1/tasks', 'max_turns a string', { messages: [{ role: 'user', content: 'hi' }], max_turns: 'five' }, 400, 'invalid_request', /max_turns/],
      ['POST', '/v1/tasks', 'tools not an array', { messages: [{ role: 'user', content: 'hi' }], tools: 'nap' }, 400, 'invalid_request', /tools/],
      ['POST', '/v1/tasks', 'unknown field', { messages: [{ role: 'user', content: 'hi' }], colour: 'red' }, 400, 'invalid_request', /colour/],
      ['POST', '/v1/tasks', 'unknown tool offered', { messages: [{ role: 'user', content: 'hi' }], tools: ['warp_drive'] }, 400, 'unknown_tool', /warp_drive/],
      ['POST', '/v1/tool-calls', 'no message', {}, 400, 'invalid_request', /message/],
      ['POST', '/v1/tool-calls', 'empty tool_calls', { message: assistant([]) }, 400, 'no_tool_calls'],
      ['POST', '/v1/tool-calls', 'tool_calls absent', { message: { role: 'assistant', content: null } }, 400, 'no_tool_calls'],
      ['POST', '/v1/tool-calls', 'duplicate ids', { message: assistant([call('a'), call('a')]) }, 400, 'duplicate_tool_call_id', /"a"/],
      ['POST', '/v1/tool-calls', 'empty id', { message: assistant([{ ...call('a'), id: '' }]) }, 400, 'invalid_request', /id/],
      [
        'POST',
        '/v1/tool-calls',
        'arguments as an object',
        { message: assistant([{ id: 'a', type: 'function', function: { name: 'nap', arguments: { ms: 1 } } }]) },
        400,
        'invalid_request',
        /arguments/,
      ],
      ['POST', '/v1/tool-calls', '129 calls', { message: assistant(Array.from({ length: 129 }, (_, i) => call(`c${i}`))) }, 400, 'too_many_tool_calls', /128/],
      ['POST', '/v1/tool-calls', 'negative timeout', { message: assistant([call('a')]), timeout_ms: -5 }, 400, 'invalid_request', /timeout_ms/],
      ['GET', '/v1/tasks/no-such-task', 'unknown task', undefined, 404, 'not_found', /no-such-task/],
      ['GET', '/v1/nothing-here', 'unknown route', undefined, 404, 'route_not_found'],
    ];

    it.each(cases)('%s %s (%s) → %i %s', async (method, path, _what, body, status, code, mentions) => {
      const response = await cluster.api.request(method, path, body);
      expect(response.status).toBe(status);
      expect(response.body).toEqual({ error: { code, message: expect.any(String) } });
      if (mentions) expect(response.body.error.message).toMatch(mentions);
    });
  });

  describe('when the body is not JSON at all', () => {
    it('answers malformed JSON with 400 invalid_json', async () => {
      const response = await cluster.api.request('POST', '/v1/tasks', undefined, { body: '{"messages": [', contentType: 'application/json' });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('invalid_json');
    });

    it('answers another content type with 415', async () => {
      const response = await cluster.api.request('POST', '/v1/tasks', undefined, { body: 'hello', contentType: 'text/plain' });
      expect(response.status).toBe(415);
      expect(response.body.error.code).toBe('unsupported_media_type');
    });

    it('answers a body over the limit with 413', async () => {
      const huge = { messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] };
      const response = await cluster.api.post('/v1/tasks', huge);
      expect(response.status).toBe(413);
      expect(response.body.error.code).toBe('payload_too_large');
    });
  });

  describe('after all that', () => {
    it('is alive, ready, and enqueued nothing for the rejected requests', async () => {
      expect((await cluster.api.get('/healthz')).status).toBe(200);
      expect(await cluster.api.get('/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
      const queue = new Queue('tools-default', { connection: cluster.client, prefix: 'volley' });
      try {
        const counts = await queue.getJobCounts();
        expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(0);
        expect(await cluster.client.keys('volley:task:*')).toEqual([]);
      } finally {
        await queue.close();
      }
    });
  });

  describe('when a call outlives timeout_ms', () => {
    it('answers in time with a timeout error for that call only', async () => {
      const started = Date.now();
      const response = await cluster.api.post('/v1/tool-calls', {
        message: assistant([call('slow', 'nap', '{"ms": 5000}'), call('quick', 'nap', '{"ms": 10}')]),
        timeout_ms: 300,
      });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body.messages[0].content).error.code).toBe('tool_timeout');
      expect(JSON.parse(response.body.messages[1].content).error).toBeUndefined();
    });
  });
});
