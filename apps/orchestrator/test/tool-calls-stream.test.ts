import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { toolCallsAnswerSchema } from '@volley/api-schemas';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, STATEFUL_TOOLS, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { assistant, call, firstEntry } from './support/scripted-calls.ts';
import { readSse, type SseEvent } from './support/sse.ts';
import { workerTotal } from './support/worker-metrics.ts';

const EVENT_TOOLS = fileURLToPath(new URL('./fixtures/event-tools.ts', import.meta.url));
const CALL_EVENTS = ['tool_call.waiting_lock', 'tool_call.started', 'tool_call.progress', 'tool_call.finished'];

const dataOf = (event: SseEvent) => JSON.parse(event.data) as Record<string, any>;
const ofCall = (events: readonly SseEvent[], id: string) =>
  events.filter((event) => event.event !== 'tool_calls.completed' && dataOf(event).tool_call_id === id);

describe('POST /v1/tool-calls with stream: true', () => {
  let cluster: Cluster;
  const url = () => `${cluster.api.baseUrl}/v1/tool-calls`;
  /** Reads the streamed answer, noting when each event arrived. */
  const streamed = async (body: Record<string, unknown>, options: { headers?: Record<string, string>; until?: (event: SseEvent) => boolean } = {}) => {
    const arrivals: number[] = [];
    const read = await readSse(url(), {
      post: { ...body, stream: true },
      ...(options.headers ? { headers: options.headers } : {}),
      until: (event) => {
        arrivals.push(Date.now());
        return options.until?.(event) ?? false;
      },
    });
    return { ...read, arrivals };
  };

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [TEST_TOOLS, EVENT_TOOLS, STATEFUL_TOOLS],
      orchestratorEnv: { VOLLEY_EVENTS_HEARTBEAT_MS: '150' },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when a call reports progress', () => {
    const body = { message: assistant(call('p', 'report_progress', { steps: 3, ms: 200 }), call('n', 'nap', { ms: 50, label: 'n' })) };

    it('passes on the calls’ events as they happen, then the answer as tool_calls.completed, and ends', async () => {
      const read = await streamed(body);

      expect(read.status).toBe(200);
      expect(read.headers.get('content-type')).toBe('text/event-stream');
      expect(read.ended).toBe(true);
      const last = read.events.at(-1)!;
      expect(last.event).toBe('tool_calls.completed');
      for (const event of read.events.slice(0, -1)) expect(CALL_EVENTS).toContain(event.event);
      // Each call's events in the order the task event stream has them, with its data's shape.
      for (const id of ['p', 'n']) {
        const names = ofCall(read.events, id).map((event) => event.event);
        expect(names[0], id).toBe('tool_call.started');
        expect(names.at(-1), id).toBe('tool_call.finished');
      }
      const progress = ofCall(read.events, 'p').filter((event) => event.event === 'tool_call.progress');
      expect(progress.map(dataOf)).toEqual(
        [1, 2, 3].map((step) => ({
          task_id: expect.stringMatching(/^tc-/),
          turn: null,
          at: expect.any(Number),
          tool_call_id: 'p',
          name: 'report_progress',
          value: { step, of: 3 },
        })),
      );
      expect(ofCall(read.events, 'n').some((event) => event.event === 'tool_call.progress')).toBe(false);
      // Live: the first report came while the tool still had 400 ms of work, not in a burst with the answer.
      const firstProgressAt = read.arrivals[read.events.indexOf(progress[0]!)]!;
      expect(read.arrivals.at(-1)! - firstProgressAt).toBeGreaterThanOrEqual(300);
      expect(read.comments).toContain('heartbeat');

      const answer = toolCallsAnswerSchema.parse(dataOf(last));
      expect(answer.messages.map((message) => [message.tool_call_id, JSON.parse(message.content as string)])).toEqual([
        ['p', { steps: 3 }],
        ['n', expect.objectContaining({ label: 'n' })],
      ]);
      expect(answer.calls.map((record) => [record.id, record.status])).toEqual([
        ['p', 'succeeded'],
        ['n', 'succeeded'],
      ]);
      // Read to its end, the fan-out's event stream is gone from Redis.
      expect(await cluster.client.exists(`volley:task:${dataOf(progress[0]!).task_id}:events`)).toBe(0);
    });

    it('answers what the JSON mode answers, field for field', async () => {
      const [read, json] = await Promise.all([streamed(body), cluster.api.post('/v1/tool-calls', body)]);
      const fromStream = dataOf(read.events.at(-1)!);
      expect(json.status).toBe(200);
      expect(Object.keys(fromStream)).toEqual(Object.keys(json.body));
      const unvarying = (answer: any) => ({
        messages: answer.messages.map((message: any) => ({ ...message, content: message.tool_call_id === 'p' ? message.content : 'timing' })),
        calls: answer.calls.map(({ started_at, finished_at, worker_id, ...record }: any) => ({
          ...record,
          times: [typeof started_at, typeof finished_at, typeof worker_id],
        })),
      });
      expect(unvarying(fromStream)).toEqual(unvarying(json.body));
    });
  });

  describe('when no call becomes a job', () => {
    it('answers the stream with tool_calls.completed alone', async () => {
      const read = await streamed({ message: assistant(call('u', 'no_such_tool')) });
      expect(read.events.map((event) => event.event)).toEqual(['tool_calls.completed']);
      expect(dataOf(read.events[0]!).calls).toEqual([
        expect.objectContaining({ id: 'u', status: 'failed', error: expect.objectContaining({ code: 'unknown_tool' }) }),
      ]);
    });
  });

  describe('when the request is refused before its calls are enqueued', () => {
    it('answers JSON with the status and code of the JSON mode', async () => {
      const empty = await streamed({ message: assistant() });
      expect([empty.status, empty.headers.get('content-type'), empty.body]).toEqual([
        400,
        expect.stringMatching(/^application\/json/),
        { error: { code: 'no_tool_calls', message: expect.any(String) } },
      ]);
      const malformed = await cluster.api.post('/v1/tool-calls', { message: assistant(call('a', 'nap', { ms: 1 })), stream: 'yes' });
      expect([malformed.status, malformed.body.error.code]).toEqual([400, 'invalid_request']);
    });
  });

  describe('when the client goes away', () => {
    it('cancels the calls: a running one is aborted on its worker, and the fan-out leaves no event stream behind', async () => {
      const label = `gone-${randomUUID()}`;
      const cancelledBefore = await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' });
      const read = await streamed(
        { message: assistant(call(label, 'mark', { label, ms: 10_000 })) },
        { until: (event) => event.event === 'tool_call.started' },
      );
      expect(read.ended).toBe(false);

      await waitFor(async () => (await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' })) > cancelledBefore, {
        timeoutMs: 3_000,
        message: 'the call was not cancelled on its worker',
      });
      expect(await cluster.client.llen(`test:done:${label}`)).toBe(0);
      const key = `volley:task:${dataOf(read.events[0]!).task_id}:events`;
      await waitFor(async () => (await cluster.client.exists(key)) === 0, { timeoutMs: 3_000, message: 'the fan-out’s event stream was left behind' });
    });
  });

  describe('with an Idempotency-Key', () => {
    it('lets the calls finish when the client goes away; a retry gets the answer alone, streamed or as JSON, and nothing runs twice', async () => {
      const label = `kept-${randomUUID()}`;
      const headers = { 'idempotency-key': randomUUID() };
      const body = { message: assistant(call(label, 'mark', { label, ms: 600 })) };
      const left = await streamed(body, { headers, until: (event) => event.event === 'tool_call.started' });
      expect(left.ended).toBe(false);

      const retry = await streamed(body, { headers });
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.events.map((event) => event.event)).toEqual(['tool_calls.completed']);
      const answer = dataOf(retry.events[0]!);
      expect(answer.calls).toEqual([expect.objectContaining({ id: label, status: 'succeeded' })]);
      // `stream` is not part of what the key stands for: the JSON retry gets the same answer.
      const json = await cluster.api.exchange('POST', '/v1/tool-calls', body, undefined, headers);
      expect([json.status, json.headers.get('idempotent-replayed'), json.body]).toEqual([200, 'true', answer]);
      expect(await cluster.client.llen(`test:marks:${label}`)).toBe(1);
      expect(await cluster.client.llen(`test:done:${label}`)).toBe(1);
    });

    it('opens the stream of a retry that waits for the first request’s answer at once, its heartbeats keeping it alive until the answer', async () => {
      const label = `waited-${randomUUID()}`;
      const headers = { 'idempotency-key': randomUUID() };
      const body = { message: assistant(call(label, 'mark', { label, ms: 1_500 })) };
      const first = streamed(body, { headers });
      await firstEntry(cluster.client, `test:marks:${label}`);

      const retry = await streamed(body, { headers });

      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      // Heartbeats come only on an open stream: it was open while the first request still ran.
      expect(retry.comments).toContain('heartbeat');
      expect(retry.events.map((event) => event.event)).toEqual(['tool_calls.completed']);
      expect(dataOf(retry.events[0]!)).toEqual(dataOf((await first).events.at(-1)!));
      expect(await cluster.client.llen(`test:marks:${label}`)).toBe(1);
    });
  });
});
