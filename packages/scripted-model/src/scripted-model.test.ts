import OpenAI, { APIError } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import type { Responder } from './chat-completion.ts';
import { parallelCallsThenAnswer } from './responders.ts';
import { startScriptedModel, type ScriptedModel, type ScriptedModelOptions } from './scripted-model.ts';

const TOOLS: ChatCompletionTool[] = ['get_weather', 'get_time', 'sleep'].map((name) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: {} } },
}));

const THREE_CALLS = parallelCallsThenAnswer({
  calls: [
    { id: 'call_weather', name: 'get_weather', arguments: { city: 'Paris' } },
    { id: 'call_time', name: 'get_time', arguments: '{"timezone":"Asia/Tokyo"}' },
    { name: 'sleep', arguments: { ms: 10 } },
  ],
  answer: (results) => `done: ${results.map((result) => result.content).join(', ')}`,
});

const ASK: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];

const running: ScriptedModel[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((model) => model.close()));
});

async function start(options: Partial<ScriptedModelOptions> = {}): Promise<{ model: ScriptedModel; client: OpenAI }> {
  const model = await startScriptedModel({ respond: THREE_CALLS, ...options });
  running.push(model);
  return { model, client: new OpenAI({ baseURL: model.url, apiKey: 'test', maxRetries: 0 }) };
}

function functionCalls(message: OpenAI.Chat.ChatCompletionMessage) {
  return (message.tool_calls ?? []).map((call) => {
    if (call.type !== 'function') throw new Error(`unexpected ${call.type} tool call`);
    return call;
  });
}

describe('scripted model', () => {
  describe('when the script asks for parallel tool calls', () => {
    it('returns every call with its id, name and JSON arguments', async () => {
      const { client } = await start();

      const completion = await client.chat.completions.create({ model: 'scripted', messages: ASK, tools: TOOLS });

      const choice = completion.choices[0];
      expect(completion.object).toBe('chat.completion');
      expect(completion.id).toMatch(/^chatcmpl-/);
      expect(choice?.finish_reason).toBe('tool_calls');
      expect(choice?.message.content).toBeNull();
      const calls = functionCalls(choice!.message);
      expect(calls.map((call) => call.function.name)).toEqual(['get_weather', 'get_time', 'sleep']);
      expect(calls.map((call) => JSON.parse(call.function.arguments))).toEqual([{ city: 'Paris' }, { timezone: 'Asia/Tokyo' }, { ms: 10 }]);
      expect(calls[0]?.id).toBe('call_weather');
      expect(calls[2]?.id).toMatch(/^call_[0-9a-f]+$/);
    });
  });

  describe('when the conversation carries the tool results', () => {
    it('answers with the final content', async () => {
      const { client } = await start();
      const first = await client.chat.completions.create({ model: 'scripted', messages: ASK, tools: TOOLS });
      const assistant = first.choices[0]!.message;
      const results: ChatCompletionMessageParam[] = functionCalls(assistant).map((call) => ({
        role: 'tool',
        tool_call_id: call.id,
        content: `${call.function.name} ok`,
      }));

      const second = await client.chat.completions.create({
        model: 'scripted',
        messages: [...ASK, assistant, ...results],
        tools: TOOLS,
      });

      expect(second.choices[0]?.finish_reason).toBe('stop');
      expect(second.choices[0]?.message.tool_calls).toBeUndefined();
      expect(second.choices[0]?.message.content).toBe('done: get_weather ok, get_time ok, sleep ok');
    });
  });

  describe('when reporting usage', () => {
    it('returns positive estimates that grow with the prompt and sums them', async () => {
      const { model, client } = await start({ respond: () => ({ content: 'ok' }) });

      const short = await client.chat.completions.create({ model: 'scripted', messages: ASK });
      const long = await client.chat.completions.create({
        model: 'scripted',
        messages: [{ role: 'user', content: 'tell me everything '.repeat(50) }],
        tools: TOOLS,
      });

      expect(short.usage?.prompt_tokens).toBeGreaterThan(0);
      expect(short.usage?.completion_tokens).toBeGreaterThan(0);
      expect(short.usage?.total_tokens).toBe(short.usage!.prompt_tokens + short.usage!.completion_tokens);
      expect(long.usage!.prompt_tokens).toBeGreaterThan(short.usage!.prompt_tokens);
      expect(model.usage).toEqual({
        prompt_tokens: short.usage!.prompt_tokens + long.usage!.prompt_tokens,
        completion_tokens: short.usage!.completion_tokens + long.usage!.completion_tokens,
        calls: 2,
      });
    });
  });

  describe('when latency is set', () => {
    it('answers no sooner than the latency, and setLatency changes it', async () => {
      const { model, client } = await start({ latencyMs: 150 });

      let startedAt = Date.now();
      await client.chat.completions.create({ model: 'scripted', messages: ASK });
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);

      model.setLatency(300);
      startedAt = Date.now();
      await client.chat.completions.create({ model: 'scripted', messages: ASK });
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    });

    it('waits for concurrent requests side by side, not one after another', async () => {
      const { client } = await start({ latencyMs: 300 });

      const startedAt = Date.now();
      await Promise.all(Array.from({ length: 5 }, () => client.chat.completions.create({ model: 'scripted', messages: ASK })));

      expect(Date.now() - startedAt).toBeLessThan(1_000);
    });
  });

  describe('when requests are answered', () => {
    it('records the body, the authorization header, the reply and the usage', async () => {
      const { model, client } = await start();

      const completion = await client.chat.completions.create({
        model: 'scripted-test',
        messages: ASK,
        tools: TOOLS,
        parallel_tool_calls: true,
      });

      expect(model.requests).toHaveLength(1);
      const [recorded] = model.requests;
      expect(recorded?.body.model).toBe('scripted-test');
      expect(recorded?.body.messages).toEqual(ASK);
      expect(recorded?.body.tools?.map((tool) => tool.function.name)).toEqual(['get_weather', 'get_time', 'sleep']);
      expect(recorded?.body.parallel_tool_calls).toBe(true);
      expect(recorded?.authorization).toBe('Bearer test');
      expect(recorded?.reply).toEqual(completion.choices[0]?.message);
      expect(recorded?.usage).toEqual(completion.usage);
      expect(recorded!.bodyReadAt).toBeGreaterThanOrEqual(recorded!.receivedAt);
      expect(recorded!.answeredAt).toBeGreaterThanOrEqual(recorded!.bodyReadAt);
      expect(completion.model).toBe('scripted-test');
    });

    it('answers with a responder swapped in by setResponder', async () => {
      const { model, client } = await start();
      model.setResponder(() => ({ content: 'swapped' }));

      const completion = await client.chat.completions.create({ model: 'scripted', messages: ASK });

      expect(completion.choices[0]?.message.content).toBe('swapped');
    });
  });

  describe('when failures are injected', () => {
    it('makes the SDK throw an APIError with that status, then answers normally', async () => {
      const { model, client } = await start();
      model.failNext(2, 503);

      for (let attempt = 0; attempt < 2; attempt += 1) {
        const error = await client.chat.completions.create({ model: 'scripted', messages: ASK }).catch((e) => e);
        expect(error).toBeInstanceOf(APIError);
        expect(error).toMatchObject({ status: 503, code: 'injected_failure' });
      }
      const completion = await client.chat.completions.create({ model: 'scripted', messages: ASK });

      expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
      expect(model.requests).toHaveLength(1);
    });

    it('sends retry-after 0 with a 429 so a retrying client retries at once', async () => {
      const { model } = await start();
      const client = new OpenAI({ baseURL: model.url, apiKey: 'test', maxRetries: 2 });
      model.failNext(2, 429);

      const startedAt = Date.now();
      const completion = await client.chat.completions.create({ model: 'scripted', messages: ASK });

      // The SDK's own backoff would be ~0.5 s per retry; retry-after: 0 skips it.
      expect(Date.now() - startedAt).toBeLessThan(400);
      expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
      expect(model.requests).toHaveLength(1);
    });

    it('rejects a status that is not an HTTP error', async () => {
      const { model } = await start();

      expect(() => model.failNext(1, 200)).toThrow(RangeError);
    });
  });

  describe('when the responder throws', () => {
    it('answers 500 with the error message', async () => {
      const failing: Responder = () => {
        throw new Error('script exploded');
      };
      const { client } = await start({ respond: failing });

      const error = await client.chat.completions.create({ model: 'scripted', messages: ASK }).catch((e) => e);

      expect(error).toBeInstanceOf(APIError);
      expect(error.status).toBe(500);
      expect(error.message).toContain('script exploded');
    });
  });

  describe('when the request is malformed', () => {
    it.each([
      ['is not JSON', '{"model":'],
      ['lacks messages', JSON.stringify({ model: 'scripted' })],
      ['lacks a model', JSON.stringify({ messages: [] })],
    ])('answers 400 with an OpenAI error body when the body %s', async (_case, body) => {
      const { model } = await start();

      const response = await fetch(`${model.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });

      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toMatchObject({
        error: { type: 'invalid_request_error', message: expect.any(String) },
      });
      expect(model.requests).toHaveLength(0);
    });
  });

  describe('when an unknown route is called', () => {
    it('answers 404 with an OpenAI error body', async () => {
      const { model } = await start();

      const response = await fetch(`${model.url}/embeddings`, { method: 'POST', body: '{}' });

      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'not_found' } });
    });
  });

  describe('when models are listed', () => {
    it('lists the scripted model', async () => {
      const { client } = await start();

      const models = [];
      for await (const entry of client.models.list()) models.push(entry);

      expect(models).toEqual([{ id: 'scripted', object: 'model', created: expect.any(Number), owned_by: 'volley' }]);
    });
  });

  describe('when closed', () => {
    it('drops keep-alive connections instead of waiting for them to time out', async () => {
      const { model, client } = await start();
      await client.chat.completions.create({ model: 'scripted', messages: ASK });

      const startedAt = Date.now();
      await model.close();
      await model.close();

      expect(Date.now() - startedAt).toBeLessThan(1_000);
      await expect(client.chat.completions.create({ model: 'scripted', messages: ASK })).rejects.toThrow();
    });
  });
});
