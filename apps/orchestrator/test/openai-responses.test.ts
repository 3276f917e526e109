import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { doorResponder, LOCAL_LOOKUP } from './support/door-responder.ts';

const KEYS = { acme: `vk_${randomBytes(24).toString('hex')}`, globex: `vk_${randomBytes(24).toString('hex')}` };
const LOOKUP_TOOL = { type: 'function' as const, strict: false, ...LOCAL_LOOKUP };

describe('POST /v1/responses with the openai SDK', () => {
  let cluster: Cluster;
  let openai: OpenAI;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, respond: doorResponder, orchestratorEnv: { VOLLEY_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex` } });
    openai = new OpenAI({ baseURL: `${cluster.api.baseUrl}/v1`, apiKey: KEYS.acme, maxRetries: 0 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  const lastModelRequest = () => cluster.model.requests.at(-1)!.body;

  it('answers with a message item after running the cluster tools, and continues it with previous_response_id', async () => {
    const { data: first, response } = await openai.responses
      .create({ model: 'scripted', instructions: 'Be brief.', input: 'What is the weather in Paris and Tokyo?' })
      .withResponse();
    const taskId = response.headers.get('x-volley-task-id')!;
    expect(first).toMatchObject({ id: `resp_${taskId}`, object: 'response', status: 'completed', instructions: 'Be brief.', previous_response_id: null });
    expect(first.output).toHaveLength(1);
    expect(first.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(first.output_text).toMatch(/^Let me check both cities\.\n\nAnswer: get_weather=\{"city":"Paris".*\| get_weather=\{"city":"Tokyo"/s);
    expect(first.usage!.input_tokens).toBeGreaterThan(0);
    expect(first.usage!.total_tokens).toBe(first.usage!.input_tokens + first.usage!.output_tokens);
    // Instructions go first, as a system message, on every model call of the task.
    expect(lastModelRequest().messages[0]).toEqual({ role: 'system', content: 'Be brief.' });

    const second = await openai.responses.create({ model: 'scripted', previous_response_id: first.id, input: 'thanks, say it again' });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe('You said: thanks, say it again');
    // The model saw the first response's whole conversation, without its instructions.
    const seen = lastModelRequest().messages.map((message) => message.role);
    expect(seen).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant', 'user']);

    const again = await openai.responses.retrieve(first.id);
    expect(again.output_text).toBe(first.output_text);
  });

  it('keeps a tenant’s responses to itself', async () => {
    const first = await openai.responses.create({ model: 'scripted', input: 'hello' });
    const globex = new OpenAI({ baseURL: `${cluster.api.baseUrl}/v1`, apiKey: KEYS.globex, maxRetries: 0 });
    const error = await globex.responses.create({ model: 'scripted', previous_response_id: first.id, input: 'hi' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'response_not_found', type: 'not_found_error' });
    await expect(globex.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
  });

  it('streams response.* events: the text as output_text deltas, then response.completed', async () => {
    const stream = await openai.responses.create({ model: 'scripted', input: 'weather, streamed', stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((event) => event.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const deltas = events.flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : []));
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(deltas.join('')).toBe(
      (completed.response.output[0] as OpenAI.Responses.ResponseOutputMessage).content.map((part) => (part.type === 'output_text' ? part.text : '')).join(''),
    );
    expect(completed.response.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('returns client calls as function_call items, and continues with their outputs, by previous_response_id or by the whole input', async () => {
    const tools = [{ type: 'function' as const, name: 'get_weather', strict: false, parameters: null }, LOOKUP_TOOL];
    const first = await openai.responses.create({ model: 'scripted', input: 'lookup my notes, and the forecast', tools });
    expect(first.output.map((item) => item.type)).toEqual(['function_call']);
    const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ name: 'local_lookup', status: 'completed' });
    expect(JSON.parse(call.arguments)).toEqual({ q: 'volley' });
    const output = { type: 'function_call_output' as const, call_id: call.call_id, output: 'notes say: bring an umbrella' };

    const chained = await openai.responses.create({ model: 'scripted', previous_response_id: first.id, input: [output], tools });
    expect(chained.output_text).toMatch(/^Answer: get_weather=\{"city":"Oslo".*\| local_lookup=notes say: bring an umbrella$/);

    // A client that keeps the conversation itself (no previous_response_id) gets the same: the cluster call is put back.
    const whole = await openai.responses.create({
      model: 'scripted',
      input: [
        { role: 'user', content: 'lookup my notes, and the forecast' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        output,
      ],
      tools,
    });
    expect(whole.output_text).toBe(chained.output_text);
    const assistant = lastModelRequest().messages.find((message) => message.role === 'assistant') as unknown as {
      tool_calls: Array<{ function: { name: string } }>;
    };
    expect(assistant.tool_calls.map((toolCall) => toolCall.function.name)).toEqual(['get_weather', 'local_lookup']);
  });

  it('streams a client call as a function_call item with its arguments', async () => {
    const stream = await openai.responses.create({ model: 'scripted', input: 'lookup volley', tools: [LOOKUP_TOOL], stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const done = events.at(-2) as OpenAI.Responses.ResponseOutputItemDoneEvent;
    expect(done.item).toMatchObject({ type: 'function_call', name: 'local_lookup', arguments: '{"q":"volley"}' });
  });

  it('refuses hosted tools and unknown previous responses in OpenAI’s error shape', async () => {
    const hosted = await openai.responses.create({ model: 'scripted', input: 'hi', tools: [{ type: 'web_search' }] }).catch((caught: unknown) => caught);
    expect(hosted).toMatchObject({ status: 400, code: 'unsupported_parameter', type: 'invalid_request_error' });
    const unknown = await openai.responses.create({ model: 'scripted', input: 'hi', previous_response_id: 'resp_nope' }).catch((caught: unknown) => caught);
    expect(unknown).toMatchObject({ status: 404, code: 'response_not_found' });
  });
});
