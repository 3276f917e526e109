import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { doorResponder, LOCAL_LOOKUP } from './support/door-responder.ts';

const KEY = `vk_${randomBytes(24).toString('hex')}`;

describe('POST /v1/chat/completions with the openai SDK', () => {
  let cluster: Cluster;
  let openai: OpenAI;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, respond: doorResponder, orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme`, VOLLEY_TASK_RATE_LIMIT: '1000' } });
    // No retries: a retried request would be a second task, and the tests count them.
    openai = new OpenAI({ baseURL: `${cluster.api.baseUrl}/v1`, apiKey: KEY, maxRetries: 0 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  const task = async (id: string) => (await cluster.api.withHeaders({ authorization: `Bearer ${KEY}` }).get(`/v1/tasks/${id}`)).body;

  it('runs the cluster tools of the answers in parallel and returns the final chat.completion, usage summed over the loop', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'scripted', messages: [{ role: 'user', content: 'What is the weather in Paris and Tokyo?' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    const taskId = response.headers.get('x-volley-task-id')!;
    expect(data.id).toBe(`chatcmpl-${taskId}`);
    // A request is a task: it draws on the tenant's task rate limit, and says so.
    expect(response.headers.get('x-ratelimit-limit')).toBe('1000');
    expect(Number(response.headers.get('x-ratelimit-remaining'))).toBeLessThan(1000);
    const [choice] = data.choices;
    expect(choice!.finish_reason).toBe('stop');
    expect(choice!.message.tool_calls).toBeUndefined();
    expect(choice!.message.content).toMatch(/^Let me check both cities\.\n\nAnswer: get_weather=\{"city":"Paris".*\| get_weather=\{"city":"Tokyo"/s);

    const record = await task(taskId);
    expect(record).toMatchObject({ status: 'completed', tenant: 'acme', origin: { api: 'chat.completions', input_messages: 1 } });
    expect(record.turns).toHaveLength(2);
    const [paris, tokyo] = record.turns[0].tool_calls;
    // Both calls ran at once: each started before the other finished.
    expect(paris.started_at).toBeLessThan(tokyo.finished_at);
    expect(tokyo.started_at).toBeLessThan(paris.finished_at);
    expect(data.usage).toEqual({
      prompt_tokens: record.usage.prompt_tokens,
      completion_tokens: record.usage.completion_tokens,
      total_tokens: record.usage.prompt_tokens + record.usage.completion_tokens,
    });
    expect(record.usage.llm_calls).toBe(2);
    // The cluster's tools were offered because the request named none.
    const offered = cluster.model.requests.at(-1)!.body.tools!.map((tool) => tool.function.name);
    expect(offered).toEqual(expect.arrayContaining(['get_weather', 'get_time', 'nap']));
  });

  it('streams chat.completion.chunks: the text as deltas, then the finish reason, then the usage, then [DONE]', async () => {
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'scripted', messages: [{ role: 'user', content: 'weather, streamed' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const taskId = response.headers.get('x-volley-task-id')!;
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.id === `chatcmpl-${taskId}`)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toMatch(/^Let me check both cities\.\n\nAnswer: get_weather=/);
    // More than the opening and closing chunks carried text: it arrived in pieces, as the model wrote it.
    expect(chunks.filter((chunk) => chunk.choices[0]?.delta.content).length).toBeGreaterThanOrEqual(2);
    const finish = chunks.findIndex((chunk) => chunk.choices[0]?.finish_reason);
    expect(chunks[finish]!.choices[0]!.finish_reason).toBe('stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const record = await task(taskId);
    expect(last.usage).toEqual({
      prompt_tokens: record.usage.prompt_tokens,
      completion_tokens: record.usage.completion_tokens,
      total_tokens: record.usage.prompt_tokens + record.usage.completion_tokens,
    });
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);

    // The same question unstreamed answers the same text.
    const whole = await openai.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'weather, streamed' }] });
    expect(whole.choices[0]!.message.content).toBe(text);
  });

  it('returns an answer of client calls only as is, and continues when the client sends their results back', async () => {
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{ type: 'function', function: LOCAL_LOOKUP }];
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'lookup volley in my notes' }];
    const first = await openai.chat.completions.create({ model: 'scripted', messages, tools });
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    const calls = first.choices[0]!.message.tool_calls!;
    expect(calls.map((call) => call.type === 'function' && call.function.name)).toEqual(['local_lookup']);
    const [call] = calls as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
    expect(JSON.parse(call!.function.arguments)).toEqual({ q: 'volley' });

    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: 'a sport, and a cluster' });
    const second = await openai.chat.completions.create({ model: 'scripted', messages, tools });
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect(second.choices[0]!.message.content).toBe('Answer: local_lookup=a sport, and a cluster');
    // The cluster's tools were not offered: the request named its tools, and they are the client's.
    expect(cluster.model.requests.at(-1)!.body.tools!.map((tool) => tool.function.name)).toEqual(['local_lookup']);
  });

  it('runs the cluster calls of a mixed answer, returns the client calls only, and puts the cluster calls back into the history', async () => {
    // `get_weather` named without parameters: the cluster's own definition is used.
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather' } },
      { type: 'function', function: LOCAL_LOOKUP },
    ];
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'lookup my notes, and the forecast' }];
    const first = await openai.chat.completions.create({ model: 'scripted', messages, tools }).withResponse();
    const answer = first.data.choices[0]!;
    expect(answer.finish_reason).toBe('tool_calls');
    const calls = answer.message.tool_calls as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
    expect(calls.map((call) => call.function.name)).toEqual(['local_lookup']);
    const firstTask = await task(first.response.headers.get('x-volley-task-id')!);
    expect(firstTask.turns[0].tool_calls).toMatchObject([{ name: 'get_weather', status: 'succeeded' }]);
    expect(firstTask.client_tool_calls).toMatchObject([{ id: calls[0]!.id, function: { name: 'local_lookup' } }]);
    // The model was offered the cluster's definition of get_weather, beside the client's tool.
    const offered = cluster.model.requests.at(-1)!.body.tools!;
    expect(offered.find((tool) => tool.function.name === 'get_weather')!.function.parameters).toMatchObject({ properties: { city: { type: 'string' } } });

    messages.push(answer.message, { role: 'tool', tool_call_id: calls[0]!.id, content: 'notes say: bring an umbrella' });
    const second = await openai.chat.completions.create({ model: 'scripted', messages, tools });
    expect(second.choices[0]!.message.content).toMatch(/^Answer: get_weather=\{"city":"Oslo".*\| local_lookup=notes say: bring an umbrella$/);
    const seen = cluster.model.requests.at(-1)!.body.messages;
    const restored = seen.find((message) => message.role === 'assistant') as unknown as { tool_calls: Array<{ function: { name: string } }> };
    expect(restored.tool_calls.map((call) => call.function.name)).toEqual(['get_weather', 'local_lookup']);
    expect(seen.map((message) => message.role)).toEqual(['user', 'assistant', 'tool', 'tool']);
  });

  it('refuses a cluster tool declared with other parameters than the cluster’s, in OpenAI’s error shape', async () => {
    const wrong = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { town: { type: 'string' } } } } };
    const error = await openai.chat.completions
      .create({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }], tools: [wrong] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'tool_definition_mismatch', type: 'invalid_request_error' });
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/get_weather/);
  });

  it('refuses what it cannot do, a bad request and a bad key, each in OpenAI’s error shape', async () => {
    const many = await openai.chat.completions
      .create({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }], n: 2 })
      .catch((caught: unknown) => caught);
    expect(many).toMatchObject({ status: 400, code: 'unsupported_parameter', type: 'invalid_request_error' });
    const empty = await openai.chat.completions.create({ model: 'scripted', messages: [] }).catch((caught: unknown) => caught);
    expect(empty).toMatchObject({ status: 400, code: 'invalid_request' });

    const stranger = new OpenAI({ baseURL: `${cluster.api.baseUrl}/v1`, apiKey: 'vk_wrong', maxRetries: 0 });
    const refused = await stranger.chat.completions
      .create({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(refused).toMatchObject({ status: 401, code: 'unauthorized', type: 'authentication_error' });
    const raw = await fetch(`${cluster.api.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const body = await raw.json();
    expect(body).toEqual({ error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'unauthorized' } });
  });

  it('cancels the task when the client goes away before the answer, streamed or not', async () => {
    const cancelledAfter = async (id: string) => {
      let record: any;
      for (let tries = 0; tries < 50 && record?.status !== 'cancelled'; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        record = await task(id);
      }
      return record;
    };
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'scripted', messages: [{ role: 'user', content: 'slow, streamed' }], stream: true })
      .withResponse();
    for await (const chunk of stream) {
      expect(chunk.choices[0]!.delta.role).toBe('assistant');
      break;
    }
    const streamed = await cancelledAfter(response.headers.get('x-volley-task-id')!);
    expect(streamed).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });

    // Found by its metadata, which the route keeps on the task: the aborted request never saw its headers.
    const probe = randomBytes(8).toString('hex');
    const leaving = new AbortController();
    const pending = openai.chat.completions
      .create({ model: 'scripted', messages: [{ role: 'user', content: 'slow' }], metadata: { probe } }, { signal: leaving.signal })
      .catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 500));
    leaving.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    const listed = (await cluster.api.withHeaders({ authorization: `Bearer ${KEY}` }).get(`/v1/tasks?metadata.probe=${probe}`)).body.tasks as Array<{
      id: string;
    }>;
    expect(listed).toHaveLength(1);
    const started = listed[0]!;
    expect(await cancelledAfter(started.id)).toMatchObject({ status: 'cancelled' });
  });

  it('answers a task that failed with its error: the upstream model failing is a 502', async () => {
    cluster.model.failNext(3, 500);
    const error = await openai.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ status: 502, code: 'llm_error', type: 'server_error' });
  });
});
