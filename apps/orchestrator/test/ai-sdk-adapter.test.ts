import { fileURLToPath } from 'node:url';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { VolleyClient } from '@volley/client';
import { VolleyToolCallError, volleyTools, type VolleyToolsOptions } from '@volley/client/ai-sdk';
import { generateText, stepCountIs, streamText } from 'ai';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { callsFromQuestion, questionFor } from './support/scripted-calls.ts';
import { idsPerFanOut, recordToolCallRequests } from './support/tool-call-requests.ts';
import { workerTotal } from './support/worker-metrics.ts';

const APPROVAL_TOOLS = fileURLToPath(new URL('./fixtures/approval-tools.ts', import.meta.url));
const EVENT_TOOLS = fileURLToPath(new URL('./fixtures/event-tools.ts', import.meta.url));

describe('volleyTools: the AI SDK’s own loop with the cluster’s tools', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, toolModules: [TEST_TOOLS, APPROVAL_TOOLS, EVENT_TOOLS], respond: callsFromQuestion });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** A client whose fan-outs the test sees, and the scripted model through `@ai-sdk/openai-compatible`. */
  function setUp() {
    const recorded = recordToolCallRequests();
    const client = new VolleyClient({ baseURL: cluster.api.baseUrl, fetch: recorded.fetch });
    const model = createOpenAICompatible({ name: 'scripted', baseURL: cluster.model.url, apiKey: 'test' })('scripted');
    return { client, model, fanOuts: recorded.requests };
  }

  /** generateText's own loop on a prompt whose model asks for these calls in its first step. */
  async function generate(calls: unknown[], toolsOptions?: VolleyToolsOptions) {
    const { client, model, fanOuts } = setUp();
    const result = await generateText({ model, prompt: questionFor(calls), tools: await volleyTools(client, toolsOptions), stopWhen: stepCountIs(3) });
    return { result, fanOuts };
  }

  describe('when the model asks for two calls in one step', () => {
    it('runs them at once on the cluster’s workers, in one fan-out, and answers from their results', async () => {
      const { result, fanOuts } = await generate([
        { id: 'call_a', name: 'nap', arguments: { ms: 300, label: 'a' } },
        { id: 'call_b', name: 'nap', arguments: { ms: 300, label: 'b' } },
      ]);

      expect(result.steps).toHaveLength(2);
      const [a, b] = result.steps[0]!.toolResults.map(
        (part) => part.output as { label: string; started: number; finished: number; worker: string; toolCallId: string },
      );
      expect([a?.toolCallId, b?.toolCallId]).toEqual(['call_a', 'call_b']);
      expect([a?.worker, b?.worker]).toEqual([expect.stringMatching(/^worker-[12]$/), expect.stringMatching(/^worker-[12]$/)]);
      expect(a!.started).toBeLessThan(b!.finished);
      expect(b!.started).toBeLessThan(a!.finished);
      expect(idsPerFanOut(fanOuts)).toEqual([['call_a', 'call_b']]);
      expect(result.text).toContain('"label":"a"');
      expect(result.text).toContain('"label":"b"');
    });

    it('takes their resource locks in the model’s order: the second write waits for the first', async () => {
      const { result, fanOuts } = await generate(
        [
          { id: 'w1', name: 'plain_write', arguments: { key: 'ai-sdk:order', label: 'first', ms: 250 } },
          { id: 'w2', name: 'plain_write', arguments: { key: 'ai-sdk:order', label: 'second', ms: 0 } },
        ],
        { names: ['plain_write'] },
      );

      const [first, second] = result.steps[0]!.toolResults.map((part) => part.output as { label: string; enter: number; exit: number });
      expect([first?.label, second?.label]).toEqual(['first', 'second']);
      expect(second!.enter).toBeGreaterThanOrEqual(first!.exit);
      expect(idsPerFanOut(fanOuts)).toEqual([['w1', 'w2']]);
    });
  });

  describe('when streamText runs the step', () => {
    it('still makes one fan-out of its calls, which the provider hands over together as the stream ends', async () => {
      const { client, model, fanOuts } = setUp();
      const streamed = streamText({
        model,
        prompt: questionFor([
          { id: 's1', name: 'nap', arguments: { ms: 1, label: 's1' } },
          { id: 's2', name: 'nap', arguments: { ms: 1, label: 's2' } },
        ]),
        tools: await volleyTools(client),
        stopWhen: stepCountIs(3),
      });

      expect(await streamed.text).toContain('"label":"s2"');
      expect(idsPerFanOut(fanOuts)).toEqual([['s1', 's2']]);
    });
  });

  describe('when a tool reports progress', () => {
    /** streamText's run of a step asking for these calls: its `tool-result` parts, with when each arrived. */
    async function streamResults(calls: unknown[], toolsOptions?: VolleyToolsOptions) {
      const { client, model, fanOuts } = setUp();
      const streamed = streamText({ model, prompt: questionFor(calls), tools: await volleyTools(client, toolsOptions), stopWhen: stepCountIs(3) });
      const results: Array<{ id: string; preliminary: boolean; output: unknown; at: number }> = [];
      for await (const part of streamed.fullStream) {
        if (part.type === 'tool-result') results.push({ id: part.toolCallId, preliminary: part.preliminary === true, output: part.output, at: Date.now() });
      }
      return { results, fanOuts, steps: await streamed.steps };
    }

    it('streams each call’s own reports as preliminary results while it runs, then its result, the step still one fan-out', async () => {
      const { results, fanOuts, steps } = await streamResults([
        { id: 'p1', name: 'report_progress', arguments: { steps: 3, ms: 200 } },
        { id: 'p2', name: 'report_progress', arguments: { steps: 2, ms: 200 } },
      ]);

      const of = (id: string) => results.filter((result) => result.id === id);
      // The SDK passes the last value of `execute` on once more as a preliminary result, then as the result.
      expect(of('p1').map(({ preliminary, output }) => [preliminary, output])).toEqual([
        [true, { step: 1, of: 3 }],
        [true, { step: 2, of: 3 }],
        [true, { step: 3, of: 3 }],
        [true, { steps: 3 }],
        [false, { steps: 3 }],
      ]);
      expect(of('p2').map(({ preliminary, output }) => [preliminary, output])).toEqual([
        [true, { step: 1, of: 2 }],
        [true, { step: 2, of: 2 }],
        [true, { steps: 2 }],
        [false, { steps: 2 }],
      ]);
      // Live: the first report came while p1 still had 400 ms of work; and the calls overlapped.
      const finalOf = (id: string) => of(id).find((result) => !result.preliminary)!;
      expect(finalOf('p1').at - of('p1')[0]!.at).toBeGreaterThanOrEqual(300);
      expect(of('p2')[0]!.at).toBeLessThan(finalOf('p1').at);
      expect(of('p1')[0]!.at).toBeLessThan(finalOf('p2').at);
      expect(idsPerFanOut(fanOuts)).toEqual([['p1', 'p2']]);
      expect(fanOuts[0]!.stream).toBe(true);
      // The step's results, what the model read next, are the tools' answers alone.
      expect(steps[0]!.toolResults.map((part) => part.output)).toEqual([{ steps: 3 }, { steps: 2 }]);
      expect(steps[0]!.toolResults.some((part) => part.preliminary)).toBe(false);
    });

    it('cancels the step’s calls on the cluster when the SDK’s run is aborted', async () => {
      const { client, model } = setUp();
      const cancelledBefore = await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'nap', error_code: 'cancelled' });
      const stop = new AbortController();
      const streamed = streamText({
        model,
        prompt: questionFor([{ id: 'long', name: 'nap', arguments: { ms: 10_000 } }]),
        tools: await volleyTools(client),
        abortSignal: stop.signal,
        onChunk: ({ chunk }) => {
          if (chunk.type === 'tool-call') setTimeout(() => stop.abort(), 200);
        },
      });
      await streamed.consumeStream();

      await waitFor(async () => (await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'nap', error_code: 'cancelled' })) > cancelledBefore, {
        timeoutMs: 3_000,
        message: 'the call was not cancelled on its worker',
      });
    });

    it('with progress: false, answers the result alone from a fan-out that is not streamed', async () => {
      const { results, fanOuts } = await streamResults([{ id: 'q', name: 'report_progress', arguments: { steps: 2, ms: 50 } }], { progress: false });
      expect(results.map(({ preliminary, output }) => [preliminary, output])).toEqual([[false, { steps: 2 }]]);
      expect(fanOuts[0]!.stream).toBeUndefined();
    });
  });

  describe('when a tool fails', () => {
    it('gives the SDK a tool error whose text is Volley’s error message, and the loop goes on', async () => {
      const { result } = await generate([
        { id: 'boom', name: 'explode', arguments: {} },
        { id: 'fine', name: 'nap', arguments: { ms: 1 } },
      ]);

      const error = result.steps[0]!.content.find((part) => part.type === 'tool-error');
      expect(error).toMatchObject({ toolCallId: 'boom', toolName: 'explode' });
      expect(VolleyToolCallError.isInstance(error!.error)).toBe(true);
      expect(error!.error).toMatchObject({
        code: 'tool_error',
        toolCallId: 'boom',
        record: { status: 'failed', worker_id: expect.stringMatching(/^worker-/) },
      });
      expect(result.steps[0]!.toolResults.map((part) => part.toolCallId)).toEqual(['fine']);
      // What the model read next is the tool message a Volley task would have given it.
      const toolMessages = cluster.model.requests.at(-1)!.body.messages.filter((message) => message.role === 'tool');
      expect(JSON.parse(String(toolMessages.find((message) => message.tool_call_id === 'boom')!.content))).toEqual({
        error: { code: 'tool_error', message: expect.stringContaining('boom'), hint: 'The tool failed.' },
      });
      expect(result.finishReason).toBe('stop');
    });
  });

  describe('when it is asked for some tools by name', () => {
    it('offers those with the schemas GET /v1/tools lists, and refuses a name no worker serves', async () => {
      const { client } = setUp();
      const tools = await volleyTools(client, { names: ['lookup_order', 'nap'] });
      expect(Object.keys(tools)).toEqual(['lookup_order', 'nap']);
      const listed = (await client.listTools()).tools.find((tool) => tool.function.name === 'lookup_order')!;
      expect(await tools.lookup_order!.inputSchema).toMatchObject({ jsonSchema: listed.function.parameters });
      await expect(volleyTools(client, { names: ['nap', 'no_such_tool'] })).rejects.toMatchObject({ code: 'unknown_tool' });
    });
  });
});
