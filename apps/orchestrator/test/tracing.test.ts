import { scriptedTurns } from '@volley/scripted-model';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { startOtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';

describe('tracing a task end to end', () => {
  let cluster: Cluster;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    };
    cluster = await startCluster({
      workers: 2,
      workerEnv: otel,
      orchestratorEnv: otel,
      respond: scriptedTurns([
        {
          content: null,
          tool_calls: [1, 2, 3].map((n) => ({ id: `call_${n}`, name: 'nap', arguments: { ms: 300, label: `nap ${n}` } })),
        },
        { content: 'all rested' },
      ]),
    });
  });

  afterAll(async () => {
    await cluster?.stop();
    await receiver?.close();
  });

  it('puts the request, the model calls, the fan-out, every tool call and the gather in one trace', async () => {
    const { body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'rest three times' }] });
    const task = await cluster.api.waitForTask(body.id);
    expect(task.status).toBe('completed');
    expect(task.trace_id).toMatch(/^[0-9a-f]{32}$/);

    const spans = await waitFor(() => {
      const inTrace = receiver.spans.filter((span) => span.traceId === task.trace_id);
      return inTrace.some((span) => span.name === 'invoke_agent volley') && inTrace.filter((s) => s.name === 'execute_tool nap').length === 3
        ? inTrace
        : undefined;
    });
    const one = (name: string) => {
      const found = spans.filter((span) => span.name === name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    const byId = new Map(spans.map((span) => [span.spanId, span]));

    const http = one('POST /v1/tasks');
    const taskSpan = one('invoke_agent volley');
    const chats = spans.filter((span) => span.name === 'chat scripted').sort((a, b) => a.start - b.start);
    const fanOut = one('fan_out 3 tool calls');
    const tools = spans.filter((span) => span.name === 'execute_tool nap');
    const gather = one('gather turns');

    expect(taskSpan.parentSpanId).toBe(http.spanId);
    expect(taskSpan.attributes['volley.task_id']).toBe(task.id);
    expect(chats).toHaveLength(2);
    for (const chat of chats) {
      expect(chat.parentSpanId).toBe(taskSpan.spanId);
      expect(chat.attributes['gen_ai.operation.name']).toBe('chat');
      expect(chat.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    }
    expect(fanOut.parentSpanId).toBe(taskSpan.spanId);
    expect(fanOut.attributes['messaging.batch.message_count']).toBe(3);

    // The tool spans come from the worker processes, children of the fan-out across the queue hop.
    expect(tools).toHaveLength(3);
    for (const tool of tools) {
      expect(tool.parentSpanId).toBe(fanOut.spanId);
      expect(tool.service).toBe('volley-tool-worker');
      expect(tool.attributes).toMatchObject({
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'nap',
        'messaging.system': 'bullmq',
        'messaging.destination.name': 'tools-default',
      });
    }
    expect(new Set(tools.map((tool) => tool.attributes['gen_ai.tool.call.id']))).toEqual(new Set(['call_1', 'call_2', 'call_3']));
    expect(new Set(spans.map((span) => span.pid)).size).toBeGreaterThanOrEqual(2);
    expect(http.service).toBe('volley-orchestrator');

    // They ran at once, and the next model call began only after the last of them ended.
    expect(Math.max(...tools.map((t) => t.start))).toBeLessThan(Math.min(...tools.map((t) => t.end)));
    expect(chats[1]!.start).toBeGreaterThanOrEqual(Math.max(...tools.map((t) => t.end)));

    // The gather is a fan-in: a child of the fan-out linking to every tool span.
    expect(gather.parentSpanId).toBe(fanOut.spanId);
    expect(new Set(gather.links.map((link) => link.spanId))).toEqual(new Set(tools.map((tool) => tool.spanId)));

    // Queue waits are visible as spans of their own, beside each tool span.
    const queueWaits = spans.filter((span) => span.name === 'wait queue tools-default');
    expect(queueWaits).toHaveLength(3);
    expect(queueWaits.every((wait) => wait.parentSpanId === fanOut.spanId)).toBe(true);
    // No span of the trace points at a parent that never arrived, except the request's own.
    const orphans = spans.filter((span: ReceivedSpan) => span.parentSpanId && !byId.has(span.parentSpanId));
    expect(orphans.map((span) => span.name)).toEqual([]);
  });

  it('records a failing tool as an error span with an exception event', async () => {
    const { body } = await cluster.api.post('/v1/tool-calls', {
      message: { role: 'assistant', content: null, tool_calls: [{ id: 'boom', type: 'function', function: { name: 'explode', arguments: '{}' } }] },
    });
    expect(JSON.parse(body.messages[0].content).error.code).toBe('tool_error');
    const span = await waitFor(() => receiver.spans.find((s) => s.name === 'execute_tool explode'));
    expect(span.status.code).toBe(2);
    expect(span.events.some((event) => event.name === 'exception')).toBe(true);
    expect(span.attributes['error.type']).toBe('tool_error');
    const request = await waitFor(() => receiver.spans.find((s) => s.name === 'POST /v1/tool-calls'));
    expect(span.traceId).toBe(request.traceId);
    // A bare fan-out has no parent job: the request gathers what its calls delivered to its inbox.
    const fanOut = await waitFor(() => receiver.spans.find((s) => s.traceId === request.traceId && s.name === 'fan_out 1 tool calls'));
    const gather = await waitFor(() => receiver.spans.find((s) => s.traceId === request.traceId && s.name === 'gather fan-in-inbox'));
    expect(gather.parentSpanId).toBe(fanOut.spanId);
    expect(gather.links.map((link) => link.spanId)).toEqual([span.spanId]);
  });
});
