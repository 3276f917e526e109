import { randomBytes } from 'node:crypto';
import type { Responder } from '@volley/scripted-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, TEST_TOOLS, type Api, type Cluster } from './support/cluster.ts';
import { compareStreamIds, readSse, type SseEvent } from './support/sse.ts';

const EVENT_TOOLS = new URL('./fixtures/event-tools.ts', import.meta.url).pathname;
const newKey = () => `vk_${randomBytes(24).toString('hex')}`;
const KEYS = { acme: newKey(), globex: newKey() };
const ANSWER = 'Every call came back: the locks were taken in turn, and the progress was reported along the way.';

/** What a user message asks for, as the tools' calls; after the tools, the long answer. */
const respond: Responder = (request) => {
  if (request.messages.at(-1)?.role === 'tool') return { content: ANSWER };
  const question = String(request.messages.findLast((message) => message.role === 'user')?.content ?? '');
  const napMs = Number(/nap (\d+)/.exec(question)?.[1] ?? 0);
  if (napMs > 0) return { content: null, tool_calls: [{ id: 'nap', name: 'nap', arguments: { ms: napMs } }] };
  return {
    content: null,
    tool_calls: [
      { id: 'first', name: 'hold_key', arguments: { key: 'account:1', ms: 400, label: 'first' } },
      { id: 'second', name: 'hold_key', arguments: { key: 'account:1', ms: 50, label: 'second' } },
      { id: 'progress', name: 'report_progress', arguments: { steps: 6, ms: 60 } },
      { id: 'quick', name: 'nap', arguments: { ms: 20 } },
    ],
  };
};

const user = (content: string) => ({ messages: [{ role: 'user', content }] });
const dataOf = (event: SseEvent) => JSON.parse(event.data) as Record<string, any>;
const names = (events: readonly SseEvent[]) => events.map((event) => event.event);

describe('task events', () => {
  let cluster: Cluster;
  let acme: Api;
  let globex: Api;
  const eventsUrl = (id: string) => `${cluster.api.baseUrl}/v1/tasks/${id}/events`;
  const auth = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
  const submit = async (content: string) => {
    const { status, body } = await acme.post('/v1/tasks', user(content));
    expect(status).toBe(202);
    return body.id as string;
  };

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      respond,
      toolModules: [TEST_TOOLS, EVENT_TOOLS],
      orchestratorEnv: { VOLLEY_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex`, VOLLEY_EVENTS_HEARTBEAT_MS: '150' },
    });
    acme = cluster.api.withHeaders(auth(KEYS.acme));
    globex = cluster.api.withHeaders(auth(KEYS.globex));
  }, 60_000);
  afterAll(() => cluster?.stop());

  describe('when a task with parallel, locking and progressing calls is read live', () => {
    let id: string;
    let live: Awaited<ReturnType<typeof readSse>>;

    beforeAll(async () => {
      id = await submit('run the parallel calls');
      live = await readSse(eventsUrl(id), { headers: auth(KEYS.acme) });
    });

    it('is an SSE answer that ends by itself after task.finished', () => {
      expect(live.status).toBe(200);
      expect(live.headers.get('content-type')).toBe('text/event-stream');
      expect(live.headers.get('cache-control')).toBe('no-cache');
      expect(live.headers.get('x-accel-buffering')).toBe('no');
      expect(live.ended).toBe(true);
      expect(live.events.at(-1)!.event).toBe('task.finished');
      expect(dataOf(live.events.at(-1)!)).toMatchObject({ task_id: id, status: 'completed', error: null, usage: { llm_calls: 2, tool_calls: 4 } });
    });

    it('gives every event an increasing stream id, and data with task_id, turn and a time', () => {
      const ids = live.events.map((event) => event.id!);
      expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true);
      for (let index = 1; index < ids.length; index += 1) expect(compareStreamIds(ids[index - 1]!, ids[index]!)).toBeLessThan(0);
      for (const event of live.events) {
        expect(dataOf(event)).toMatchObject({ task_id: id, at: expect.any(Number) });
        expect(dataOf(event)).toHaveProperty('turn');
      }
    });

    it('orders the events of each turn: model call, queued calls, their runs, the gather', () => {
      const order = names(live.events);
      const first = (name: string, turn?: number) =>
        live.events.findIndex((event) => event.event === name && (turn === undefined || dataOf(event).turn === turn));
      const last = (name: string, turn?: number) =>
        live.events.findLastIndex((event) => event.event === name && (turn === undefined || dataOf(event).turn === turn));
      expect(order[0]).toBe('task.status');
      expect(dataOf(live.events[0]!)).toMatchObject({ status: 'running', previous: 'queued', turn: null });
      expect(first('llm.started', 0)).toBe(1);
      expect(first('llm.finished', 0)).toBeLessThan(first('tool_call.queued', 0));
      expect(order.filter((name) => name === 'tool_call.queued')).toHaveLength(4);
      expect(last('tool_call.queued', 0)).toBeLessThan(first('tool_call.started', 0));
      expect(last('tool_call.finished', 0)).toBeLessThan(first('turn.gathered', 0));
      expect(first('turn.gathered', 0)).toBeLessThan(first('llm.started', 1));
      expect(first('llm.started', 1)).toBeLessThan(first('llm.delta', 1));
      expect(last('llm.delta', 1)).toBeLessThan(first('llm.finished', 1));
      expect(last('llm.finished', 1)).toBeLessThan(first('task.status', 1));
      expect(order.slice(-2)).toEqual(['task.status', 'task.finished']);
      // Each call: queued, started, finished, in that order.
      for (const callId of ['first', 'second', 'progress', 'quick']) {
        const ofCall = live.events.filter((event) => dataOf(event).tool_call_id === callId).map((event) => event.event);
        expect(ofCall.filter((name) => name !== 'tool_call.progress' && name !== 'tool_call.waiting_lock')).toEqual([
          'tool_call.queued',
          'tool_call.started',
          'tool_call.finished',
        ]);
      }
    });

    it('streams the answer text as llm.delta events that add up to it', () => {
      const deltas = live.events.filter((event) => event.event === 'llm.delta');
      expect(deltas.length).toBeGreaterThanOrEqual(1);
      expect(deltas.map((event) => dataOf(event).text).join('')).toBe(ANSWER);
      const finished = live.events.filter((event) => event.event === 'llm.finished').map(dataOf);
      expect(finished.map((data) => data.tool_call_count)).toEqual([4, 0]);
      expect(finished.every((data) => data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0)).toBe(true);
    });

    it('carries the workers events: started and finished with status and ms, the wait for a lock once, progress', () => {
      const ofCall = (callId: string, name: string) => live.events.filter((event) => event.event === name && dataOf(event).tool_call_id === callId).map(dataOf);
      for (const callId of ['first', 'second', 'progress', 'quick']) {
        expect(ofCall(callId, 'tool_call.started')[0]!.worker_id).toMatch(/^worker-\d$/);
        expect(ofCall(callId, 'tool_call.finished')[0]).toMatchObject({
          status: 'succeeded',
          error_code: null,
          ms: expect.any(Number),
          worker_id: expect.stringMatching(/^worker-\d$/),
        });
      }
      expect(ofCall('second', 'tool_call.waiting_lock')).toHaveLength(1);
      // The first in line may park too, until every sibling declared its claims: once at most.
      expect(ofCall('first', 'tool_call.waiting_lock').length).toBeLessThanOrEqual(1);
      expect(ofCall('second', 'tool_call.finished')[0]!.lock_wait_ms).toBeGreaterThan(200);
      const progress = ofCall('progress', 'tool_call.progress').map((data) => data.value);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.length).toBeLessThanOrEqual(6);
      expect(progress.at(-1)).toEqual({ step: 6, of: 6 });
    });

    it('replays the whole stream from the start once the task is over', async () => {
      const replay = await readSse(eventsUrl(id), { headers: auth(KEYS.acme) });
      expect(replay.events).toEqual(live.events);
    });
  });

  describe('when the connection drops mid-task and the client resumes with Last-Event-ID', () => {
    it('gets exactly the events it missed: no loss, no duplicate', async () => {
      const id = await submit('run the parallel calls');
      const before = await readSse(eventsUrl(id), { headers: auth(KEYS.acme), until: (event) => event.event === 'tool_call.started' });
      expect(before.ended).toBe(false);
      expect(before.events.at(-1)!.event).toBe('tool_call.started');
      // Events keep coming while nobody listens.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const after = await readSse(eventsUrl(id), { headers: auth(KEYS.acme, { 'last-event-id': before.events.at(-1)!.id! }) });
      const full = await readSse(eventsUrl(id), { headers: auth(KEYS.acme) });

      expect(after.ended).toBe(true);
      expect(after.events.length).toBeGreaterThan(0);
      expect([...before.events, ...after.events]).toEqual(full.events);
      expect(full.events.at(-1)!.event).toBe('task.finished');
    });

    it('refuses a Last-Event-ID that is no stream id', async () => {
      const id = await submit('nap 1');
      const read = await readSse(eventsUrl(id), { headers: auth(KEYS.acme, { 'last-event-id': 'yesterday' }) });
      expect(read.status).toBe(400);
      expect(read.body).toMatchObject({ error: { code: 'invalid_request' } });
    });
  });

  describe('when the stream is quiet', () => {
    it('sends heartbeat comments', async () => {
      const id = await submit('nap 800');
      const read = await readSse(eventsUrl(id), { headers: auth(KEYS.acme) });
      expect(read.ended).toBe(true);
      expect(read.comments.filter((comment) => comment === 'heartbeat').length).toBeGreaterThanOrEqual(3);
    });
  });

  describe('when another tenant asks for the stream', () => {
    it('answers 404, as for a task that does not exist', async () => {
      const id = await submit('nap 1');
      const other = await readSse(eventsUrl(id), { headers: auth(KEYS.globex) });
      const missing = await readSse(eventsUrl('no-such-task'), { headers: auth(KEYS.acme) });
      expect(other.status).toBe(404);
      expect(other.body).toEqual({ error: { code: 'not_found', message: `no task with id "${id}"` } });
      expect(missing.body).toMatchObject({ error: { code: 'not_found' } });
      expect((await readSse(eventsUrl(id))).status).toBe(401);
    });
  });

  describe('when the task is cancelled', () => {
    it('ends the stream with the cancelled status and task.finished', async () => {
      const id = await submit('nap 5000');
      const reading = readSse(eventsUrl(id), { headers: auth(KEYS.acme) });
      await readSse(eventsUrl(id), { headers: auth(KEYS.acme), until: (event) => event.event === 'tool_call.started' });
      expect((await acme.post(`/v1/tasks/${id}/cancel`, {})).status).toBe(200);
      const read = await reading;
      expect(read.ended).toBe(true);
      expect(names(read.events).slice(-2)).toEqual(['task.status', 'task.finished']);
      expect(dataOf(read.events.at(-1)!)).toMatchObject({ status: 'cancelled' });
    });
  });

  describe('when the orchestrator serving a stream shuts down', () => {
    it('ends the stream (the client resumes elsewhere) instead of holding the shutdown', async () => {
      const other = await cluster.addOrchestrator();
      const id = await submit('nap 3000');
      let endedAt = 0;
      const reading = readSse(`${other.baseUrl}/v1/tasks/${id}/events`, { headers: auth(KEYS.acme) }).finally(() => {
        endedAt = Date.now();
      });
      await readSse(eventsUrl(id), { headers: auth(KEYS.acme), until: (event) => event.event === 'tool_call.started' });

      const stoppingAt = Date.now();
      const exit = await cluster.orchestrators.at(-1)!.stop('SIGTERM', 10_000);
      const read = await reading;

      expect(exit.code).toBe(0);
      expect(endedAt - stoppingAt).toBeLessThan(1_000);
      expect(read.ended).toBe(true);
      expect(names(read.events)).not.toContain('task.finished');
      // On a busy machine the stopped stream may not have delivered an event yet: then it resumes from the start.
      const lastId = read.events.at(-1)?.id;
      const resumed = await readSse(eventsUrl(id), { headers: auth(KEYS.acme, lastId ? { 'last-event-id': lastId } : {}) });
      expect(resumed.events.at(-1)!.event).toBe('task.finished');
      const full = await readSse(eventsUrl(id), { headers: auth(KEYS.acme) });
      expect([...read.events, ...resumed.events].map((event) => event.id)).toEqual(full.events.map((event) => event.id));
    });
  });

  describe('GET /v1/tasks/:id?wait_ms=', () => {
    it('returns as soon as the task ends', async () => {
      const id = await submit('nap 300');
      const startedAt = Date.now();
      const { status, body } = await acme.get(`/v1/tasks/${id}?wait_ms=10000`);
      const took = Date.now() - startedAt;
      expect(status).toBe(200);
      expect(body.status).toBe('completed');
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(3_000);
    });

    it('returns after wait_ms with the task still running', async () => {
      const id = await submit('nap 3000');
      const startedAt = Date.now();
      const { status, body } = await acme.get(`/v1/tasks/${id}?wait_ms=400`);
      const took = Date.now() - startedAt;
      expect(status).toBe(200);
      expect(body.status).toBe('running');
      expect(took).toBeGreaterThanOrEqual(390);
      expect(took).toBeLessThan(1_500);
    });

    it('refuses a wait longer than 60 s, and hides another tenant’s task', async () => {
      const id = await submit('nap 1');
      expect((await acme.get(`/v1/tasks/${id}?wait_ms=60001`)).status).toBe(400);
      expect((await globex.get(`/v1/tasks/${id}?wait_ms=100`)).status).toBe(404);
    });
  });
});
