import { fileURLToPath } from 'node:url';
import { Agent, OpenAIChatCompletionsModel, run, setTracingDisabled, type RunResult } from '@openai/agents';
import { VolleyClient } from '@volley/client';
import { volleyAgentTools } from '@volley/client/openai-agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { callsFromQuestion, questionFor as ask } from './support/scripted-calls.ts';
import { idsPerFanOut, recordToolCallRequests } from './support/tool-call-requests.ts';

const APPROVAL_TOOLS = fileURLToPath(new URL('./fixtures/approval-tools.ts', import.meta.url));

/** Each tool call's output in the run, by call id, as the JSON the tool message held. */
function outputsOf(result: RunResult<any, any>): Record<string, any> {
  const outputs: Record<string, any> = {};
  for (const item of result.newItems) {
    if (item.type !== 'tool_call_output_item' || item.rawItem.type !== 'function_call_result') continue;
    outputs[item.rawItem.callId] = JSON.parse(String(item.output));
  }
  return outputs;
}

describe('volleyAgentTools: the OpenAI Agents SDK’s run() with the cluster’s tools', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, toolModules: [TEST_TOOLS, APPROVAL_TOOLS], respond: callsFromQuestion });
    // The SDK would export its traces to OpenAI, which this machine cannot reach.
    setTracingDisabled(true);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** An agent on the scripted model (it speaks Chat Completions) with the cluster's tools, and the fan-outs it makes. */
  async function agentWith(names?: string[]) {
    const recorded = recordToolCallRequests();
    const client = new VolleyClient({ baseURL: cluster.api.baseUrl, fetch: recorded.fetch });
    const model = new OpenAIChatCompletionsModel(new OpenAI({ baseURL: cluster.model.url, apiKey: 'test', maxRetries: 0 }), 'scripted');
    const agent = new Agent({ name: 'Volley', instructions: 'Use the tools.', model, tools: await volleyAgentTools(client, { names }) });
    return { agent, fanOuts: recorded.requests };
  }

  describe('when the model asks for two calls in one answer', () => {
    it('runs them at once on the cluster’s workers, in one fan-out, and answers from their results', async () => {
      const { agent, fanOuts } = await agentWith();
      const result = await run(
        agent,
        ask([
          { id: 'call_a', name: 'nap', arguments: { ms: 300, label: 'a' } },
          { id: 'call_b', name: 'nap', arguments: { ms: 300, label: 'b' } },
        ]),
      );

      const { call_a: a, call_b: b } = outputsOf(result);
      expect([a.toolCallId, b.toolCallId]).toEqual(['call_a', 'call_b']);
      expect([a.worker, b.worker]).toEqual([expect.stringMatching(/^worker-[12]$/), expect.stringMatching(/^worker-[12]$/)]);
      expect(a.started).toBeLessThan(b.finished);
      expect(b.started).toBeLessThan(a.finished);
      expect(idsPerFanOut(fanOuts)).toEqual([['call_a', 'call_b']]);
      expect(result.finalOutput).toContain('"label":"b"');
    });

    it('takes their resource locks in the model’s order: the second write waits for the first', async () => {
      const { agent, fanOuts } = await agentWith(['plain_write']);
      const result = await run(
        agent,
        ask([
          { id: 'w1', name: 'plain_write', arguments: { key: 'agents:order', label: 'first', ms: 250 } },
          { id: 'w2', name: 'plain_write', arguments: { key: 'agents:order', label: 'second', ms: 0 } },
        ]),
      );

      const { w1, w2 } = outputsOf(result);
      expect(w2.enter).toBeGreaterThanOrEqual(w1.exit);
      expect(idsPerFanOut(fanOuts)).toEqual([['w1', 'w2']]);
    });
  });

  describe('when a tool fails', () => {
    it('gives the model Volley’s error message as the call’s output, and the run goes on', async () => {
      const { agent } = await agentWith();
      const result = await run(
        agent,
        ask([
          { id: 'boom', name: 'explode', arguments: {} },
          { id: 'fine', name: 'nap', arguments: { ms: 1 } },
        ]),
      );

      const outputs = outputsOf(result);
      expect(outputs.boom).toEqual({ error: { code: 'tool_error', message: expect.stringContaining('boom'), hint: 'The tool failed.' } });
      expect(outputs.fine).toMatchObject({ toolCallId: 'fine', worker: expect.stringMatching(/^worker-/) });
      expect(result.finalOutput).toContain('tool_error');
    });
  });

  describe('when a tool needs a person’s approval', () => {
    it('interrupts the run; approved in the SDK, the call runs on the cluster as approved', async () => {
      const { agent, fanOuts } = await agentWith(['guarded_write', 'quick']);
      const guarded = agent.tools.find((tool) => tool.name === 'guarded_write')!;
      expect(guarded).toMatchObject({ type: 'function', strict: false });

      const first = await run(
        agent,
        ask([
          { id: 'g1', name: 'guarded_write', arguments: { key: 'agents:approved', label: 'guarded' } },
          { id: 'q1', name: 'quick', arguments: { label: 'quick' } },
        ]),
      );
      expect(first.interruptions.map((item) => item.rawItem)).toEqual([
        expect.objectContaining({ type: 'function_call', callId: 'g1', name: 'guarded_write' }),
      ]);
      // The call that needs nobody ran at once; the guarded one has not reached the cluster.
      expect(idsPerFanOut(fanOuts)).toEqual([['q1']]);

      first.state.approve(first.interruptions[0]!);
      const resumed = await run(agent, first.state);

      expect(fanOuts.slice(1)).toEqual([expect.objectContaining({ approved: ['g1'] })]);
      expect(idsPerFanOut(fanOuts.slice(1))).toEqual([['g1']]);
      expect(outputsOf(resumed).g1).toMatchObject({ label: 'guarded', key: 'agents:approved', worker: expect.stringMatching(/^worker-/) });
      expect(resumed.finalOutput).toContain('"label":"guarded"');
    });

    it('never sends a call rejected in the SDK', async () => {
      const { agent, fanOuts } = await agentWith(['guarded_write']);
      const first = await run(agent, ask([{ id: 'g2', name: 'guarded_write', arguments: { key: 'agents:rejected', label: 'rejected' } }]));
      first.state.reject(first.interruptions[0]!);
      const resumed = await run(agent, first.state);
      expect(fanOuts).toEqual([]);
      expect(resumed.finalOutput).toBeDefined();
    });
  });
});
