import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import type { Responder } from './chat-completion.ts';
import { CHUNK_CHARS } from './completion-chunks.ts';
import { startScriptedModel, type ScriptedModel } from './scripted-model.ts';

const ASK = [{ role: 'user' as const, content: 'hello' }];
const LONG = 'The weather in Paris is mild, with a light breeze from the west.';

const running: ScriptedModel[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((model) => model.close()));
});

async function start(respond: Responder): Promise<{ model: ScriptedModel; client: OpenAI }> {
  const model = await startScriptedModel({ respond });
  running.push(model);
  return { model, client: new OpenAI({ baseURL: model.url, apiKey: 'test', maxRetries: 0 }) };
}

async function chunksOf(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('scripted model streaming', () => {
  describe('when the answer is text', () => {
    it('streams the content in several chunks that add up to it, then stops', async () => {
      const { client } = await start(() => ({ content: LONG }));

      const chunks = await chunksOf(await client.chat.completions.create({ model: 'scripted', messages: ASK, stream: true }));

      const pieces = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '');
      expect(pieces.filter((piece) => piece !== '').length).toBe(Math.ceil(LONG.length / CHUNK_CHARS));
      expect(pieces.join('')).toBe(LONG);
      expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.model === 'scripted')).toBe(true);
      expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
      expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
      expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    });

    it('sends no usage chunk unless asked', async () => {
      const { client } = await start(() => ({ content: 'hi' }));

      const chunks = await chunksOf(await client.chat.completions.create({ model: 'scripted', messages: ASK, stream: true }));

      expect(chunks.every((chunk) => chunk.choices.length === 1 && chunk.usage == null)).toBe(true);
    });
  });

  describe('when stream_options.include_usage is set', () => {
    it('ends with a chunk of no choices holding the usage the model recorded', async () => {
      const { model, client } = await start(() => ({ content: LONG }));

      const chunks = await chunksOf(
        await client.chat.completions.create({ model: 'scripted', messages: ASK, stream: true, stream_options: { include_usage: true } }),
      );

      const last = chunks.at(-1)!;
      expect(last.choices).toEqual([]);
      expect(last.usage).toEqual(model.requests[0]!.usage);
      expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    });
  });

  describe('when the answer calls tools', () => {
    it('streams each call by index, its arguments in pieces, and finishes with tool_calls', async () => {
      const args = { city: 'Paris', units: 'metric', note: 'a long enough argument to span chunks' };
      const { client } = await start(() => ({
        tool_calls: [
          { id: 'call_a', name: 'get_weather', arguments: args },
          { id: 'call_b', name: 'get_time', arguments: '{"timezone":"UTC"}' },
        ],
      }));

      const stream = client.chat.completions.stream({ model: 'scripted', messages: ASK, stream_options: { include_usage: true } });
      const completion = await stream.finalChatCompletion();

      const message = completion.choices[0]!.message;
      expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
      expect(message.tool_calls?.map((call) => (call.type === 'function' ? [call.id, call.function.name, call.function.arguments] : []))).toEqual([
        ['call_a', 'get_weather', JSON.stringify(args)],
        ['call_b', 'get_time', '{"timezone":"UTC"}'],
      ]);
      expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
    });
  });

  describe('when the stream is read by hand', () => {
    it('is Server-Sent Events ending with data: [DONE]', async () => {
      const { model } = await start(() => ({ content: 'hi' }));

      const response = await fetch(`${model.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'scripted', messages: ASK, stream: true }),
      });

      expect(response.headers.get('content-type')).toBe('text/event-stream');
      const text = await response.text();
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(
        text
          .split('\n\n')
          .filter(Boolean)
          .every((event) => event.startsWith('data: ')),
      ).toBe(true);
    });
  });
});
