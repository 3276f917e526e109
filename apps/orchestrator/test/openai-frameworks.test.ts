import { randomBytes } from 'node:crypto';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { HumanMessage, ToolMessage, type AIMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { Agent, OpenAIResponsesModel, run, setTracingDisabled, tool as agentTool } from '@openai/agents';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startCluster, type Cluster } from './support/cluster.ts';
import { doorResponder, LOCAL_LOOKUP } from './support/door-responder.ts';

const KEY = `vk_${randomBytes(24).toString('hex')}`;
const WEATHER_ANSWER = /^Let me check both cities\.\n\nAnswer: get_weather=\{"city":"Paris".*\| get_weather=\{"city":"Tokyo"/s;
const NOTES = 'notes say: bring an umbrella';

/** Each framework's own loop, pointed at Volley's base URL; the cluster runs the tools it serves. */
describe('the agent frameworks against the OpenAI-compatible routes', () => {
  let cluster: Cluster;
  let baseURL: string;
  const taskOf = async (id: string) => (await cluster.api.withHeaders({ authorization: `Bearer ${KEY}` }).get(`/v1/tasks/${id}`)).body;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, respond: doorResponder, orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme` } });
    baseURL = `${cluster.api.baseUrl}/v1`;
    // The Agents SDK would export its traces to OpenAI, which this machine cannot reach.
    setTracingDisabled(true);
  }, 60_000);
  afterAll(() => cluster?.stop());

  describe('the Vercel AI SDK through @ai-sdk/openai-compatible', () => {
    const volley = () => createOpenAICompatible({ name: 'volley', baseURL, apiKey: KEY, includeUsage: true });

    it('generateText gets the final answer after the cluster ran the tools', async () => {
      const result = await generateText({ model: volley()('scripted'), prompt: 'What is the weather in Paris and Tokyo?' });
      expect(result.text).toMatch(WEATHER_ANSWER);
      expect(result.finishReason).toBe('stop');
      expect(result.usage.inputTokens).toBeGreaterThan(0);
      const taskId = result.response.headers?.['x-volley-task-id'];
      expect((await taskOf(taskId!)).turns).toHaveLength(2);
    });

    it('streamText streams the text, and runs its own tool in its loop', async () => {
      const streamed = streamText({ model: volley()('scripted'), prompt: 'weather, streamed' });
      let text = '';
      for await (const piece of streamed.textStream) text += piece;
      expect(text).toMatch(WEATHER_ANSWER);
      expect((await streamed.usage).outputTokens).toBeGreaterThan(0);

      const ran: unknown[] = [];
      const withOwnTool = await generateText({
        model: volley()('scripted'),
        prompt: 'lookup volley',
        tools: {
          [LOCAL_LOOKUP.name]: tool({
            description: LOCAL_LOOKUP.description,
            inputSchema: jsonSchema<{ q: string }>({ ...LOCAL_LOOKUP.parameters, required: ['q'] }),
            execute: async (input) => {
              ran.push(input);
              return NOTES;
            },
          }),
        },
        stopWhen: stepCountIs(3),
      });
      expect(ran).toEqual([{ q: 'volley' }]);
      expect(withOwnTool.text).toBe(`Answer: local_lookup=${NOTES}`);
    });
  });

  it('LangChain’s ChatOpenAI invokes and streams, and binds its own tool', async () => {
    const model = new ChatOpenAI({ model: 'scripted', apiKey: KEY, configuration: { baseURL }, maxRetries: 0 });
    const answer = await model.invoke([new HumanMessage('What is the weather in Paris and Tokyo?')]);
    expect(answer.content).toMatch(WEATHER_ANSWER);
    expect(answer.usage_metadata?.input_tokens).toBeGreaterThan(0);

    let streamed = '';
    for await (const chunk of await model.stream('weather, streamed')) streamed += String(chunk.content);
    expect(streamed).toMatch(WEATHER_ANSWER);

    const withTool = model.bindTools([{ type: 'function', function: LOCAL_LOOKUP }]);
    const history = [new HumanMessage('lookup volley')];
    const call = (await withTool.invoke(history)) as AIMessage;
    expect(call.tool_calls?.map((toolCall) => toolCall.name)).toEqual(['local_lookup']);
    const final = await withTool.invoke([...history, call, new ToolMessage({ content: NOTES, tool_call_id: call.tool_calls![0]!.id! })]);
    expect(final.content).toBe(`Answer: local_lookup=${NOTES}`);
  });

  it('the OpenAI Agents SDK runs an agent on the Responses route, with the cluster’s tools and one of its own', async () => {
    const model = new OpenAIResponsesModel(new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0 }), 'scripted');
    const agent = new Agent({ name: 'Forecaster', instructions: 'Answer with the tools’ results.', model });
    const result = await run(agent, 'What is the weather in Paris and Tokyo?');
    expect(result.finalOutput).toMatch(WEATHER_ANSWER);

    const ran: unknown[] = [];
    const lookup = agentTool({
      name: LOCAL_LOOKUP.name,
      description: LOCAL_LOOKUP.description,
      parameters: z.object({ q: z.string() }),
      execute: async (input) => {
        ran.push(input);
        return NOTES;
      },
    });
    const withTool = new Agent({ name: 'Notes', instructions: 'Use the notes.', model, tools: [lookup] });
    const looked = await run(withTool, 'lookup volley');
    expect(ran).toEqual([{ q: 'volley' }]);
    expect(looked.finalOutput).toBe(`Answer: local_lookup=${NOTES}`);

    const streamed = await run(agent, 'weather, streamed', { stream: true });
    let text = '';
    for await (const piece of streamed.toTextStream()) text += piece;
    await streamed.completed;
    expect(text).toMatch(WEATHER_ANSWER);
  });
});
