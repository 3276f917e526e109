import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startScriptedModel, type ScriptedModel } from '@volley/scripted-model';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAIModelClient } from './model-client.ts';

const ASK = [{ role: 'user' as const, content: 'hello' }];
const TOOLS = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];
const LONG = 'A long enough answer to be streamed in several pieces of text, one after another.';

const closing: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((close) => close()));
});

async function scripted(respond: Parameters<typeof startScriptedModel>[0]['respond']): Promise<ScriptedModel> {
  const model = await startScriptedModel({ respond });
  closing.push(() => model.close());
  return model;
}

describe('createOpenAIModelClient', () => {
  describe('when the model answers with text', () => {
    it('streams it: every piece reaches onText in order, and the answer holds the whole text and the usage', async () => {
      const model = await scripted(() => ({ content: LONG }));
      const client = createOpenAIModelClient({ baseURL: model.url, apiKey: 'test', timeoutMs: 5_000, maxRetries: 0 });
      const pieces: string[] = [];

      const answer = await client.complete({ model: 'scripted', messages: ASK, tools: [], onText: (text) => pieces.push(text) });

      expect(model.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces.join('')).toBe(LONG);
      expect(answer.message).toEqual({ role: 'assistant', content: LONG });
      expect(answer.finishReason).toBe('stop');
      expect(answer.model).toBe('scripted');
      expect(answer.usage).toEqual({ prompt_tokens: model.usage.prompt_tokens, completion_tokens: model.usage.completion_tokens });
    });
  });

  describe('when the model calls tools', () => {
    it('puts each call together from its deltas, in order, with no content', async () => {
      const args = { city: 'Paris', note: 'arguments long enough to come in several deltas' };
      const model = await scripted(() => ({
        tool_calls: [
          { id: 'call_a', name: 'get_weather', arguments: args },
          { id: 'call_b', name: 'get_weather', arguments: { city: 'Tokyo' } },
        ],
      }));
      const client = createOpenAIModelClient({ baseURL: model.url, apiKey: 'test', timeoutMs: 5_000, maxRetries: 0 });

      const answer = await client.complete({ model: 'scripted', messages: ASK, tools: TOOLS });

      expect(answer.message).toEqual({
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: JSON.stringify(args) } },
          { id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
        ],
      });
      expect(answer.finishReason).toBe('tool_calls');
    });
  });

  describe('what it sends', () => {
    it('names the transcript, tools, options and tool choice as Chat Completions does, and a retry sends them again', async () => {
      const model = await scripted(() => ({ content: 'done' }));
      model.failNext(1, 500);
      const client = createOpenAIModelClient({ baseURL: model.url, apiKey: 'test', timeoutMs: 5_000, maxRetries: 1 });
      const messages = [
        ...ASK,
        {
          role: 'assistant' as const,
          content: null,
          tool_calls: [{ id: 'call_a', type: 'function' as const, function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool' as const, tool_call_id: 'call_a', content: 'Sunny, 21 °C' },
      ];

      await client.complete({
        model: 'scripted',
        messages,
        tools: TOOLS,
        parallelToolCalls: false,
        toolChoice: 'required',
        options: { temperature: 0.3, max_completion_tokens: 64 },
      });

      expect(model.requests).toHaveLength(1);
      expect(model.requests[0]!.body).toMatchObject({
        model: 'scripted',
        messages,
        tools: TOOLS,
        parallel_tool_calls: false,
        tool_choice: 'required',
        temperature: 0.3,
        max_completion_tokens: 64,
        stream: true,
      });
    });
  });

  describe('when the stream stalls after its first chunk', () => {
    it('fails with llm_error once no chunk came for the timeout, instead of hanging', async () => {
      const server: Server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] })}\n\n`,
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      closing.push(() => new Promise((resolve) => server.close(resolve).closeAllConnections()));
      const { port } = server.address() as AddressInfo;
      const client = createOpenAIModelClient({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'test', timeoutMs: 300, maxRetries: 0 });

      const startedAt = Date.now();
      const error = await client.complete({ model: 'm', messages: ASK, tools: [] }).catch((e: unknown) => e);

      expect(error).toMatchObject({ code: 'llm_error' });
      expect((error as Error).message).toContain('stalled');
      expect(Date.now() - startedAt).toBeLessThan(2_000);
    });
  });
});
