import { parallelCallsThenAnswer, type ScriptedToolCall } from '@volley/scripted-model';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

const napCalls = (ms: number, count = 3): ScriptedToolCall[] =>
  Array.from({ length: count }, (_, index) => ({ id: `call_nap_${index}`, name: 'nap', arguments: { ms, label: `nap-${index}` } }));

function assistantWith(calls: Array<{ id: string; name: string; arguments: string }>) {
  return assistant(...calls.map(({ id, name, arguments: args }) => call(id, name, args)));
}

describe('one parallel turn', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      orchestrators: 2,
      respond: parallelCallsThenAnswer({
        calls: (request) => {
          const question = String(request.messages.findLast((m) => m.role === 'user')?.content ?? '');
          if (question.includes('mixed')) {
            return [
              { id: 'ok_1', name: 'nap', arguments: { ms: 50, label: 'fine' } },
              { id: 'bad_json', name: 'nap', arguments: '{"ms": 5' },
              { id: 'bad_schema', name: 'nap', arguments: { ms: 'soon' } },
              { id: 'unknown', name: 'teleport', arguments: {} },
              { id: 'throws', name: 'explode', arguments: {} },
              { id: 'ok_2', name: 'lookup_order', arguments: { order_id: 7 } },
            ];
          }
          if (question.includes('slowly')) {
            return [
              { id: 'quick', name: 'nap', arguments: { ms: 20 } },
              { id: 'slow_1', name: 'nap', arguments: { ms: 1500 } },
              { id: 'slow_2', name: 'nap', arguments: { ms: 1500 } },
            ];
          }
          return napCalls(300);
        },
        answer: (toolMessages) => `final answer from ${toolMessages.length} results: ${toolMessages.map((m) => m.content).join(' | ')}`,
      }),
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('POST /v1/tool-calls', () => {
    it('runs three 300 ms calls at once and gathers them in well under 600 ms', async () => {
      // First use compiles validators and loads scripts; the claim is about a warm cluster.
      await cluster.api.post('/v1/tool-calls', { message: assistantWith([{ id: 'warm', name: 'nap', arguments: '{"ms": 1}' }]) });
      const calls = napCalls(300).map((call) => ({ ...call, id: call.id!, arguments: JSON.stringify(call.arguments) }));
      const started = Date.now();
      const { status, body } = await cluster.api.post('/v1/tool-calls', { message: assistantWith(calls) });
      const elapsed = Date.now() - started;

      expect(status).toBe(200);
      expect(elapsed).toBeLessThan(500);
      expect(body.messages.map((m: any) => m.tool_call_id)).toEqual(['call_nap_0', 'call_nap_1', 'call_nap_2']);
      body.messages.forEach((message: any, index: number) => {
        expect(message.role).toBe('tool');
        const content = JSON.parse(message.content);
        expect(content.label).toBe(`nap-${index}`);
        expect(content.toolCallId).toBe(`call_nap_${index}`);
      });
      const latestStart = Math.max(...body.calls.map((c: any) => c.started_at));
      const earliestFinish = Math.min(...body.calls.map((c: any) => c.finished_at));
      expect(latestStart).toBeLessThan(earliestFinish);
      for (const call of body.calls) {
        expect(call).toMatchObject({ status: 'succeeded', pool: 'default', attempts: 1 });
        expect(call.worker_id).toMatch(/^worker-[12]$/);
      }
    });

    it('turns each bad call into an error tool message and runs the others', async () => {
      const { status, body } = await cluster.api.post('/v1/tool-calls', {
        message: assistantWith([
          { id: 'a', name: 'nap', arguments: '{"ms": 10}' },
          { id: 'b', name: 'nap', arguments: '{"ms": ' },
          { id: 'c', name: 'nap', arguments: '{"ms": "ten"}' },
          { id: 'd', name: 'no_such_tool', arguments: '{}' },
          { id: 'e', name: 'explode', arguments: '{}' },
          { id: 'f', name: 'hang', arguments: '{}' },
          { id: 'g', name: 'lookup_order', arguments: '{"order_id": 0}' },
          { id: 'h', name: 'lookup_order', arguments: '[1]' },
          { id: 'i', name: 'lookup_order', arguments: '{"order_id": 3}' },
        ]),
      });
      expect(status).toBe(200);
      const codes = body.messages.map((m: any) => {
        const content = JSON.parse(m.content);
        return [m.tool_call_id, content.error?.code ?? 'ok'];
      });
      expect(codes).toEqual([
        ['a', 'ok'],
        ['b', 'invalid_arguments_json'],
        ['c', 'arguments_schema_violation'],
        ['d', 'unknown_tool'],
        ['e', 'tool_error'],
        ['f', 'tool_timeout'],
        ['g', 'arguments_schema_violation'],
        ['h', 'arguments_not_object'],
        ['i', 'ok'],
      ]);
      expect(JSON.parse(body.messages[4].content).error.message).toContain('boom');
      expect(body.calls.map((c: any) => c.status)).toEqual(['succeeded', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'succeeded']);
      expect(body.calls[3]).toMatchObject({ pool: null, worker_id: null, attempts: 0 });
    });
  });

  describe('POST /v1/tasks', () => {
    it('runs tools then a final answer, recording transcript, turns and usage', async () => {
      const submitted = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'nap three times' }] });
      expect(submitted.status).toBe(202);
      expect(submitted.body).toEqual({ id: expect.any(String), status: 'queued' });

      const task = await cluster.api.waitForTask(submitted.body.id);
      expect(task.status).toBe('completed');
      expect(task.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'tool', 'assistant']);
      expect(task.messages.slice(2, 5).map((m: any) => m.tool_call_id)).toEqual(['call_nap_0', 'call_nap_1', 'call_nap_2']);
      expect(task.output).toMatch(/^final answer from 3 results: /);
      expect(task.output).toContain('nap-2');

      expect(task.turns).toHaveLength(2);
      const [first, second] = task.turns;
      expect(first.llm.tool_call_count).toBe(3);
      expect(second.llm.tool_call_count).toBe(0);
      expect(first.tool_calls.map((c: any) => c.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      const latestStart = Math.max(...first.tool_calls.map((c: any) => c.started_at));
      const earliestFinish = Math.min(...first.tool_calls.map((c: any) => c.finished_at));
      const lastFinish = Math.max(...first.tool_calls.map((c: any) => c.finished_at));
      expect(latestStart).toBeLessThan(earliestFinish);
      expect(first.llm.finished_at).toBeLessThanOrEqual(Math.min(...first.tool_calls.map((c: any) => c.started_at)));
      expect(second.llm.started_at).toBeGreaterThanOrEqual(lastFinish);

      expect(task.usage.llm_calls).toBe(2);
      expect(task.usage.tool_calls).toBe(3);
      expect(task.usage.prompt_tokens).toBe(first.llm.usage.prompt_tokens + second.llm.usage.prompt_tokens);
      expect(task.usage.prompt_tokens).toBeGreaterThan(0);
      expect(task.usage.completion_tokens).toBeGreaterThan(0);
      expect(task.error).toBeUndefined();
    });

    it('offers the tools to the model and sends it the results in order', async () => {
      const before = cluster.model.requests.length;
      const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'nap again' }] });
      await cluster.api.waitForTask(body.id);
      const [firstRequest, secondRequest] = cluster.model.requests.slice(before);
      expect(firstRequest!.body.model).toBe('scripted');
      expect(firstRequest!.authorization).toBe('Bearer test-key');
      expect(firstRequest!.body.tools?.map((t) => t.function.name).sort()).toEqual([
        'echo',
        'explode',
        'get_time',
        'get_weather',
        'hang',
        'ledger_append',
        'ledger_balance',
        'lookup_order',
        'nap',
        'prototype_keys',
        'sleep',
      ]);
      const sent = secondRequest!.body.messages;
      expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'tool']);
      expect(sent.slice(2).map((m) => m.tool_call_id)).toEqual(['call_nap_0', 'call_nap_1', 'call_nap_2']);
    });

    it('keeps going when some calls of a turn are bad, and the model reads why', async () => {
      const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'mixed bag' }] });
      const task = await cluster.api.waitForTask(body.id);
      expect(task.status).toBe('completed');
      const results = Object.fromEntries(task.messages.filter((m: any) => m.role === 'tool').map((m: any) => [m.tool_call_id, JSON.parse(m.content)]));
      expect(results.ok_1.label).toBe('fine');
      expect(results.bad_json.error.code).toBe('invalid_arguments_json');
      expect(results.bad_schema.error.code).toBe('arguments_schema_violation');
      expect(results.unknown.error.code).toBe('unknown_tool');
      expect(results.throws.error.code).toBe('tool_error');
      expect(results.ok_2).toEqual({ order_id: 7, status: 'shipped' });
      expect(task.turns[0].tool_calls.map((c: any) => c.status)).toEqual(['succeeded', 'failed', 'failed', 'failed', 'failed', 'succeeded']);
    });

    it('shows calls running live while the turn is in flight', async () => {
      const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'nap slowly' }] });
      const live = await waitFor(
        async () => {
          const { body: task } = await cluster.api.get(`/v1/tasks/${body.id}`);
          const statuses = task.turns[0]?.tool_calls.map((c: any) => c.status);
          return statuses?.join() === 'succeeded,running,running' ? task : undefined;
        },
        { timeoutMs: 1400, message: 'never saw one call finished and two running' },
      );
      expect(live.status).toBe('running');
      expect(live.turns[0].tool_calls[1].worker_id).toBeNull();
      expect(live.turns[0].tool_calls[1].started_at).toBeGreaterThan(0);
      expect(live.turns[0].tool_calls[0].worker_id).toMatch(/^worker-/);
      const done = await cluster.api.waitForTask(body.id);
      expect(done.turns[0].tool_calls.map((c: any) => c.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    });

    it('is served and advanced by any orchestrator instance: state lives in Redis', async () => {
      const [first, second] = cluster.apis;
      const { body } = await first!.post('/v1/tasks', { messages: [{ role: 'user', content: 'nap on two instances' }] });
      const viaSecond = await second!.waitForTask(body.id);
      const viaFirst = await first!.get(`/v1/tasks/${body.id}`);
      expect(viaSecond.status).toBe('completed');
      expect(viaFirst.body).toEqual(viaSecond);
    });

    it('limits the task to a subset of tools and fails when max_turns runs out', async () => {
      const { body } = await cluster.api.post('/v1/tasks', {
        messages: [{ role: 'user', content: 'nap forever' }],
        tools: ['nap'],
        max_turns: 1,
      });
      const task = await cluster.api.waitForTask(body.id);
      expect(task.status).toBe('failed');
      expect(task.error.code).toBe('max_turns_exceeded');
      expect(task.turns).toHaveLength(1);
      const request = cluster.model.requests.findLast((r) => r.body.messages[0]?.content === 'nap forever');
      expect(request!.body.tools?.map((t) => t.function.name)).toEqual(['nap']);
    });

    it('fails the task with a clear error when the model keeps failing', async () => {
      // One request and the SDK's two retries.
      cluster.model.failNext(3, 500);
      const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'nap' }] });
      const task = await cluster.api.waitForTask(body.id);
      expect(task.status).toBe('failed');
      expect(task.error.code).toBe('llm_error');
    });
  });
});
