import { fileURLToPath } from 'node:url';
import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import type { DynamicStructuredTool } from '@langchain/core/tools';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';
import { ChatOpenAI } from '@langchain/openai';
import type { CallRecord } from '@volley/client';
import { VolleyClient } from '@volley/client';
import { volleyLangChainTools, VolleyToolNode } from '@volley/client/langgraph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { callsFromQuestion, questionFor } from './support/scripted-calls.ts';
import { idsPerFanOut, recordToolCallRequests } from './support/tool-call-requests.ts';

const APPROVAL_TOOLS = fileURLToPath(new URL('./fixtures/approval-tools.ts', import.meta.url));

/** A question whose scripted model asks for exactly these calls in one answer, then answers with their results. */
const ask = (calls: unknown[]) => new HumanMessage(questionFor(calls));

const toolMessagesOf = (messages: BaseMessage[]) => messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message));
const byId = (messages: BaseMessage[]) => Object.fromEntries(toolMessagesOf(messages).map((message) => [message.tool_call_id, message]));
const json = (message: ToolMessage | undefined) => JSON.parse(String(message?.content));

describe('VolleyToolNode: a LangGraph StateGraph whose tools node is the cluster', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, toolModules: [TEST_TOOLS, APPROVAL_TOOLS], respond: callsFromQuestion });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** The usual agent graph: a ChatOpenAI node on the scripted model bound to the cluster's tools, a tools node, the conditional edge. */
  async function graphWith(toolsNode: (client: VolleyClient, tools: DynamicStructuredTool[]) => ToolNode | VolleyToolNode) {
    const recorded = recordToolCallRequests();
    const client = new VolleyClient({ baseURL: cluster.api.baseUrl, fetch: recorded.fetch });
    const tools = await volleyLangChainTools(client);
    const model = new ChatOpenAI({ model: 'scripted', apiKey: 'test', configuration: { baseURL: cluster.model.url }, maxRetries: 0 }).bindTools(tools);
    const graph = new StateGraph(MessagesAnnotation)
      .addNode('agent', async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addNode('tools', toolsNode(client, tools))
      .addEdge(START, 'agent')
      .addConditionalEdges('agent', toolsCondition, ['tools', END])
      .addEdge('tools', 'agent')
      .compile();
    return { graph, client, fanOuts: recorded.requests };
  }

  const volleyNode = (client: VolleyClient) => new VolleyToolNode(client);

  describe('when the model asks for two calls in one answer', () => {
    it('runs them at once on the cluster’s workers, in one fan-out, one ToolMessage per call', async () => {
      const { graph, fanOuts } = await graphWith(volleyNode);
      const { messages } = await graph.invoke({
        messages: [
          ask([
            { id: 'call_a', name: 'nap', arguments: { ms: 300, label: 'a' } },
            { id: 'call_b', name: 'nap', arguments: { ms: 300, label: 'b' } },
          ]),
        ],
      });

      expect(messages.map((message) => message.getType())).toEqual(['human', 'ai', 'tool', 'tool', 'ai']);
      const { call_a, call_b } = byId(messages);
      const [a, b] = [json(call_a), json(call_b)];
      expect([a.toolCallId, b.toolCallId]).toEqual(['call_a', 'call_b']);
      expect(a.started).toBeLessThan(b.finished);
      expect(b.started).toBeLessThan(a.finished);
      expect(call_a).toMatchObject({ status: 'success', name: 'nap', artifact: { status: 'succeeded', worker_id: a.worker } });
      expect(a.worker).toMatch(/^worker-[12]$/);
      expect(idsPerFanOut(fanOuts)).toEqual([['call_a', 'call_b']]);
      expect(String(messages.at(-1)!.content)).toContain('"label":"b"');
      // The model was offered the cluster's tools, with the schemas GET /v1/tools lists.
      const offered = cluster.model.requests.at(-1)!.body.tools!.find((tool) => tool.function.name === 'lookup_order');
      expect(offered?.function.parameters).toMatchObject({ properties: { order_id: { type: 'integer', minimum: 1 } }, required: ['order_id'] });
    });

    it('takes their resource locks in the model’s order: the second write waits for the first', async () => {
      const { graph, fanOuts } = await graphWith(volleyNode);
      const { messages } = await graph.invoke({
        messages: [
          ask([
            { id: 'w1', name: 'plain_write', arguments: { key: 'langgraph:order', label: 'first', ms: 250 } },
            { id: 'w2', name: 'plain_write', arguments: { key: 'langgraph:order', label: 'second', ms: 0 } },
          ]),
        ],
      });

      const { w1, w2 } = byId(messages);
      expect(json(w2).enter).toBeGreaterThanOrEqual(json(w1).exit);
      expect(idsPerFanOut(fanOuts)).toEqual([['w1', 'w2']]);
    });
  });

  describe('when a tool fails', () => {
    it('answers an error ToolMessage holding Volley’s error message, and the graph goes on', async () => {
      const { graph } = await graphWith(volleyNode);
      const { messages } = await graph.invoke({
        messages: [
          ask([
            { id: 'boom', name: 'explode', arguments: {} },
            { id: 'fine', name: 'nap', arguments: { ms: 1 } },
          ]),
        ],
      });

      const { boom, fine } = byId(messages);
      expect(boom).toMatchObject({ status: 'error', name: 'explode', artifact: { status: 'failed', error: { code: 'tool_error' } } });
      expect(json(boom)).toEqual({ error: { code: 'tool_error', message: expect.stringContaining('boom'), hint: 'The tool failed.' } });
      expect(fine).toMatchObject({ status: 'success' });
      expect(messages.at(-1)!.getType()).toBe('ai');
    });
  });

  describe('when it is given an AIMessage alone', () => {
    it('answers each call, the ones the model could not parse included, and skips calls answered already', async () => {
      const recorded = recordToolCallRequests();
      const node = new VolleyToolNode(new VolleyClient({ baseURL: cluster.api.baseUrl, fetch: recorded.fetch }));
      const message = new AIMessage({
        content: '',
        tool_calls: [{ id: 'ok', name: 'lookup_order', args: { order_id: 7 }, type: 'tool_call' }],
        invalid_tool_calls: [{ id: 'broken', name: 'lookup_order', args: '{"order_id": 7', error: 'not JSON', type: 'invalid_tool_call' }],
      });

      const answered: ToolMessage[] = await node.invoke(message);
      expect(answered.map((reply) => [reply.tool_call_id, reply.status])).toEqual([
        ['ok', 'success'],
        ['broken', 'error'],
      ]);
      expect(json(answered[0])).toEqual({ order_id: 7, status: 'shipped' });
      expect((answered[1]!.artifact as CallRecord).error?.code).toBe('invalid_arguments_json');

      const again: ToolMessage[] = await node.invoke([message, answered[0]!]);
      expect(again.map((reply) => reply.tool_call_id)).toEqual(['broken']);
      expect(idsPerFanOut(recorded.requests)).toEqual([['ok', 'broken'], ['broken']]);
    });
  });

  describe('when the Volley tools run in LangGraph’s own ToolNode instead', () => {
    it('still runs the calls of one answer in one fan-out', async () => {
      const { graph, fanOuts } = await graphWith((_client, tools) => new ToolNode(tools));
      const { messages } = await graph.invoke({
        messages: [
          ask([
            { id: 't1', name: 'nap', arguments: { ms: 50, label: 't1' } },
            { id: 't2', name: 'explode', arguments: {} },
          ]),
        ],
      });

      const { t1, t2 } = byId(messages);
      expect(json(t1)).toMatchObject({ label: 't1', worker: expect.stringMatching(/^worker-/) });
      expect(t2).toMatchObject({ status: 'error', artifact: { error: { code: 'tool_error' } } });
      expect(idsPerFanOut(fanOuts)).toEqual([['t1', 't2']]);
    });
  });
});
