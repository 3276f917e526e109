import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatCompletionRequest, RequestMessage, ScriptedReply } from './chat-completion.ts';
import { demoResponder, parallelCallsThenAnswer, scriptedTurns } from './responders.ts';
import { startScriptedModel, type ScriptedModel } from './scripted-model.ts';

function tools(...names: string[]): ChatCompletionRequest['tools'] {
  return names.map((name) => ({ type: 'function', function: { name } }));
}

function request(messages: RequestMessage[], offered = tools()): ChatCompletionRequest {
  return { model: 'scripted', messages, tools: offered };
}

const user = (content: string): RequestMessage => ({ role: 'user', content });
const assistantCalling = (...calls: Array<[id: string, name: string]>): RequestMessage => ({
  role: 'assistant',
  content: null,
  tool_calls: calls.map(([id, name]) => ({ id, type: 'function', function: { name, arguments: '{}' } })),
});
const toolResult = (id: string, content: string): RequestMessage => ({ role: 'tool', tool_call_id: id, content });

describe('scripted model responders', () => {
  describe('parallelCallsThenAnswer', () => {
    const respond = parallelCallsThenAnswer({
      calls: [
        { name: 'a', arguments: {} },
        { name: 'b', arguments: {} },
      ],
    });

    describe('when the current turn has no tool results', () => {
      it('answers with the calls', async () => {
        const reply = await respond(request([user('go')]));

        expect(reply.tool_calls?.map((call) => call.name)).toEqual(['a', 'b']);
      });

      it('starts a new round after a new user message, even if older turns had results', async () => {
        const messages = [user('go'), assistantCalling(['1', 'a']), toolResult('1', 'old'), user('again')];

        const reply = await respond(request(messages));

        expect(reply.tool_calls).toHaveLength(2);
      });

      it('picks the calls per request when given a function', async () => {
        const perRequest = parallelCallsThenAnswer({
          calls: (req) => (req.tools ?? []).map((tool) => ({ name: tool.function.name, arguments: {} })),
        });

        const reply = await perRequest(request([user('go')], tools('x', 'y', 'z')));

        expect(reply.tool_calls?.map((call) => call.name)).toEqual(['x', 'y', 'z']);
      });
    });

    describe('when the current turn has tool results', () => {
      const messages = [user('go'), assistantCalling(['1', 'a'], ['2', 'b']), toolResult('1', 'sun'), toolResult('2', 'noon')];

      it('answers with a text listing every result by default', async () => {
        const reply = await respond(request(messages));

        expect(reply.tool_calls).toBeUndefined();
        expect(reply.content).toContain('sun');
        expect(reply.content).toContain('noon');
      });

      it('hands those tool messages to a custom answer', async () => {
        const custom = parallelCallsThenAnswer({
          calls: [],
          answer: (results) => results.map((result) => result.tool_call_id).join('+'),
        });

        const reply = await custom(request(messages));

        expect(reply.content).toBe('1+2');
      });
    });
  });

  describe('scriptedTurns', () => {
    const replies: ScriptedReply[] = [{ tool_calls: [{ name: 'a', arguments: {} }] }, { tool_calls: [{ name: 'b', arguments: {} }] }, { content: 'final' }];
    const respond = scriptedTurns(replies);

    describe('when asked at each step of a turn', () => {
      it('answers the reply for the number of assistant messages since the last user message', async () => {
        const step0 = [user('go')];
        const step1 = [...step0, assistantCalling(['1', 'a']), toolResult('1', 'ok')];
        const step2 = [...step1, assistantCalling(['2', 'b']), toolResult('2', 'ok')];

        expect(await respond(request(step0))).toBe(replies[0]);
        expect(await respond(request(step1))).toBe(replies[1]);
        expect(await respond(request(step2))).toBe(replies[2]);
      });

      it('repeats the last reply past the end and restarts after a new user message', async () => {
        const long = [user('go'), ...Array.from({ length: 5 }, (_, i) => assistantCalling([`${i}`, 'a']))];

        expect(await respond(request(long))).toBe(replies[2]);
        expect(await respond(request([...long, user('again')]))).toBe(replies[0]);
      });
    });

    describe('when given no replies', () => {
      it('throws at construction', () => {
        expect(() => scriptedTurns([])).toThrow(RangeError);
      });
    });
  });

  describe('demoResponder', () => {
    describe('when no tool results are in yet', () => {
      it('calls get_weather, get_time and sleep with fixed arguments', async () => {
        const reply = await demoResponder(request([user('demo')], tools('sleep', 'get_time', 'get_weather', 'other')));

        expect(reply.tool_calls).toEqual([
          { name: 'get_weather', arguments: { city: 'Paris' } },
          { name: 'get_time', arguments: { timezone: 'Asia/Tokyo' } },
          { name: 'sleep', arguments: { ms: 300 } },
        ]);
      });

      it('skips preferred tools that are not offered', async () => {
        const reply = await demoResponder(request([user('demo')], tools('sleep')));

        expect(reply.tool_calls?.map((call) => call.name)).toEqual(['sleep']);
      });

      it('says so when none of its tools is offered', async () => {
        const reply = await demoResponder(request([user('demo')], tools('other')));

        expect(reply).toEqual({ content: 'I have no tools to call.' });
      });
    });

    describe('when tool results are in', () => {
      it('summarises each result under the name of the tool that produced it', async () => {
        const messages = [user('demo'), assistantCalling(['c1', 'get_weather'], ['c2', 'get_time']), toolResult('c2', '09:00'), toolResult('c1', 'sunny')];

        const reply = await demoResponder(request(messages, tools('get_weather', 'get_time')));

        expect(reply.tool_calls).toBeUndefined();
        expect(reply.content).toContain('- get_time: 09:00');
        expect(reply.content).toContain('- get_weather: sunny');
      });
    });

    describe('when driven through the real SDK', () => {
      let model: ScriptedModel | undefined;
      afterEach(() => model?.close());

      it('plays the whole demo conversation', async () => {
        model = await startScriptedModel({ respond: demoResponder });
        const client = new OpenAI({ baseURL: model.url, apiKey: 'test', maxRetries: 0 });
        const offered: ChatCompletionTool[] = ['get_weather', 'get_time', 'sleep'].map((name) => ({
          type: 'function',
          function: { name, parameters: { type: 'object', properties: {} } },
        }));
        const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'demo' }];

        const first = await client.chat.completions.create({ model: 'scripted', messages, tools: offered });
        const assistant = first.choices[0]!.message;
        const results: ChatCompletionMessageParam[] = (assistant.tool_calls ?? []).map((call) => ({
          role: 'tool',
          tool_call_id: call.id,
          content: `result of ${call.type === 'function' ? call.function.name : call.type}`,
        }));
        const second = await client.chat.completions.create({
          model: 'scripted',
          messages: [...messages, assistant, ...results],
          tools: offered,
        });

        expect(results).toHaveLength(3);
        expect(second.choices[0]?.message.content).toContain('- sleep: result of sleep');
        expect(second.choices[0]?.finish_reason).toBe('stop');
      });
    });
  });
});
