import { setTimeout as delay } from 'node:timers/promises';
import type { ToolCallsRequest } from '@volley/api-schemas';
import { describe, expect, it } from 'vitest';
import { VolleyClient } from '../volley-client.ts';
import { ToolCallBatcher, type BatchedCall } from './tool-call-batcher.ts';

interface Sent {
  body: ToolCallsRequest;
  signal: AbortSignal;
}

/**
 * A client whose `fetch` answers `POST /v1/tool-calls` the way the API does (each call's text is
 * `ran <id>`, its record succeeded), in reverse order so nothing may lean on the order, and
 * streamed after each call's progress when the body asks for a stream; `hold` keeps the answer
 * back until it resolves.
 */
function apiAnswering(options: { hold?: Promise<void>; answer?: (body: ToolCallsRequest) => unknown; status?: number } = {}) {
  const sent: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (_url, init) => {
    const body = JSON.parse(String(init!.body)) as ToolCallsRequest;
    const signal = init!.signal!;
    sent.push({ body, signal });
    await Promise.race([options.hold, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
    if (options.status) return Response.json({ error: { code: 'overloaded', message: 'busy' } }, { status: options.status });
    const answer = answerOf(body, options.answer);
    if (body.stream) return eventStreamOf(body, answer);
    return Response.json(answer);
  };
  return { client: new VolleyClient({ baseURL: 'http://volley.test', fetch }), sent };
}

function answerOf(body: ToolCallsRequest, answer?: (body: ToolCallsRequest) => unknown): unknown {
  const calls = body.message.tool_calls ?? [];
  return (
    answer?.(body) ?? {
      messages: calls.map((call) => ({ role: 'tool', tool_call_id: call.id, content: `ran ${call.id}` })).reverse(),
      calls: calls
        .map((call) => ({
          id: call.id,
          name: call.function.name,
          status: 'succeeded',
          pool: 'default',
          started_at: 1,
          finished_at: 2,
          worker_id: 'w',
          attempts: 1,
        }))
        .reverse(),
    }
  );
}

/** The streamed answer: two progress reports of each call (`<id>: 1`, `<id>: 2`), then the answer. */
function eventStreamOf(body: ToolCallsRequest, answer: unknown): Response {
  const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  const progress = [1, 2].flatMap((step) =>
    (body.message.tool_calls ?? []).map((call) =>
      event('tool_call.progress', { task_id: 'tc-1', at: 1, turn: null, tool_call_id: call.id, name: call.function.name, value: `${call.id}: ${step}` }),
    ),
  );
  return new Response([...progress, event('tool_calls.completed', answer)].join(''), { headers: { 'content-type': 'text/event-stream' } });
}

const call = (id: string, extra: Partial<BatchedCall> = {}): BatchedCall => ({ id, name: 'nap', arguments: '{}', ...extra });
const idsOf = (sent: Sent[]) => sent.map(({ body }) => (body.message.tool_calls ?? []).map((toolCall) => toolCall.id));

describe('ToolCallBatcher', () => {
  describe('when calls of one step arrive in the same tick', () => {
    it('sends them as one assistant message, in arrival order, and gives each its own result', async () => {
      const { client, sent } = apiAnswering();
      const batcher = new ToolCallBatcher(client, { timeoutMs: 5_000 });
      const step = {};
      const outcomes = await Promise.all([batcher.run(call('a'), step), batcher.run(call('b', { approved: true }), step), batcher.run(call('c'), step)]);
      expect(outcomes.map((outcome) => [outcome.content, outcome.record.id])).toEqual([
        ['ran a', 'a'],
        ['ran b', 'b'],
        ['ran c', 'c'],
      ]);
      expect(sent.map(({ body }) => body)).toEqual([
        {
          message: {
            role: 'assistant',
            content: null,
            tool_calls: ['a', 'b', 'c'].map((id) => ({ id, type: 'function', function: { name: 'nap', arguments: '{}' } })),
          },
          timeout_ms: 5_000,
          approved: ['b'],
        },
      ]);
    });
  });

  describe('when a call of the batch wants its progress', () => {
    it('streams the batch, tells each such call its own reports, and gives every call its result', async () => {
      const { client, sent } = apiAnswering();
      const batcher = new ToolCallBatcher(client);
      const told: Record<string, unknown[]> = { a: [], b: [] };
      const outcomes = await Promise.all([
        batcher.run(call('a', { onProgress: (value) => told.a!.push(value) })),
        batcher.run(call('b', { onProgress: (value) => told.b!.push(value) })),
        batcher.run(call('c')),
      ]);
      expect(told).toEqual({ a: ['a: 1', 'a: 2'], b: ['b: 1', 'b: 2'] });
      expect(outcomes.map((outcome) => outcome.content)).toEqual(['ran a', 'ran b', 'ran c']);
      expect(sent.map(({ body }) => body.stream)).toEqual([true]);
    });
  });

  describe('when calls come under different steps, in different ticks, or with an id the batch holds', () => {
    it('sends each group on its own', async () => {
      const { client, sent } = apiAnswering();
      const batcher = new ToolCallBatcher(client);
      const [one, two] = [{}, {}];
      const first = [batcher.run(call('a'), one), batcher.run(call('b'), two), batcher.run(call('a'), one)];
      await delay(5);
      await Promise.all([...first, batcher.run(call('c'), one)]);
      expect(idsOf(sent)).toEqual([['a'], ['b'], ['a'], ['c']]);
    });
  });

  describe('when a batch window is set', () => {
    it('lets calls that arrive within it join the first', async () => {
      const { client, sent } = apiAnswering();
      const batcher = new ToolCallBatcher(client, { batchWindowMs: 50 });
      const first = batcher.run(call('a'));
      await delay(10);
      await Promise.all([first, batcher.run(call('b'))]);
      expect(idsOf(sent)).toEqual([['a', 'b']]);
    });
  });

  describe('when a call is aborted', () => {
    it('rejects it with the signal’s reason, leaves the others waiting, and aborts the request once every call is gone', async () => {
      let release!: () => void;
      const { client, sent } = apiAnswering({ hold: new Promise((resolve) => (release = resolve)) });
      const batcher = new ToolCallBatcher(client);
      const [stopA, stopB] = [new AbortController(), new AbortController()];
      const a = batcher.run(call('a', { signal: stopA.signal }));
      const b = batcher.run(call('b', { signal: stopB.signal }));
      await delay(5);
      stopA.abort(new Error('not needed'));
      await expect(a).rejects.toThrow('not needed');
      expect(sent[0]!.signal.aborted).toBe(false);
      stopB.abort(new Error('nor this'));
      await expect(b).rejects.toThrow('nor this');
      expect(sent[0]!.signal.aborted).toBe(true);
      release();
    });

    it('is never sent when it was aborted before its batch left', async () => {
      const { client, sent } = apiAnswering();
      const batcher = new ToolCallBatcher(client);
      const stop = new AbortController();
      const gone = batcher.run(call('a', { signal: stop.signal }));
      const kept = batcher.run(call('b'));
      stop.abort(new Error('changed my mind'));
      await expect(gone).rejects.toThrow('changed my mind');
      await kept;
      expect(idsOf(sent)).toEqual([['b']]);
    });
  });

  describe('when the request or its answer fails', () => {
    it('rejects every call with the API’s error', async () => {
      const { client } = apiAnswering({ status: 503 });
      const batcher = new ToolCallBatcher(client);
      const results = await Promise.allSettled([batcher.run(call('a')), batcher.run(call('b'))]);
      expect(results.map((result) => result.status === 'rejected' && result.reason)).toEqual([
        expect.objectContaining({ status: 503, code: 'overloaded' }),
        expect.objectContaining({ status: 503, code: 'overloaded' }),
      ]);
    });

    it('rejects as invalid_response an answer that is not a tool-calls answer, or that leaves a call out', async () => {
      const malformed = new ToolCallBatcher(apiAnswering({ answer: () => ({ messages: 'none' }) }).client);
      await expect(malformed.run(call('a'))).rejects.toMatchObject({ code: 'invalid_response' });
      const partial = new ToolCallBatcher(apiAnswering({ answer: () => ({ messages: [], calls: [] }) }).client);
      await expect(partial.run(call('a'))).rejects.toMatchObject({ code: 'invalid_response', message: expect.stringContaining('tool call a') });
    });
  });

  describe('when it is built with nonsense options', () => {
    it('throws at once', () => {
      const { client } = apiAnswering();
      expect(() => new ToolCallBatcher(client, { timeoutMs: 0 })).toThrow(RangeError);
      expect(() => new ToolCallBatcher(client, { batchWindowMs: -1 })).toThrow(RangeError);
    });
  });
});
