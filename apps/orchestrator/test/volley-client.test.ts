import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  approvalsAnswerSchema,
  deletedTaskSchema,
  taskAckSchema,
  taskListSchema,
  taskSchema,
  toolCallsAnswerSchema,
  toolListSchema,
  type CreateTaskRequest,
  type Task,
  type ToolCallsRequest,
} from '@volley/api-schemas';
import { VolleyApiError, VolleyClient, type TaskEvent, type ToolCallEvent } from '@volley/client';
import { freePort, waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { startDroppingProxy, type DroppingProxy } from './support/dropping-proxy.ts';
import { ask as askCalls, assistant, call, callsFromQuestion } from './support/scripted-calls.ts';

const APPROVAL_TOOLS = fileURLToPath(new URL('./fixtures/approval-tools.ts', import.meta.url));
const EVENT_TOOLS = fileURLToPath(new URL('./fixtures/event-tools.ts', import.meta.url));
const KEY = `vk_${randomBytes(24).toString('hex')}`;

/** A task body whose model asks for exactly these calls. */
const ask = (calls: unknown[]) => askCalls(calls) as CreateTaskRequest;
const nap = (id: string, ms: number) => ({ id, name: 'nap', arguments: { ms, label: id } });

async function collect(events: AsyncIterable<TaskEvent>): Promise<TaskEvent[]> {
  const all: TaskEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

/** A task, read until `until` holds (the API's long poll would only wait for its end). */
function taskWhen(client: VolleyClient, id: string, until: (task: Task) => boolean): Promise<Task> {
  return waitFor(
    async () => {
      const task = await client.getTask(id);
      return until(task) && task;
    },
    { timeoutMs: 15_000, message: `task ${id} never reached the state waited for` },
  );
}

describe('VolleyClient against a running cluster', () => {
  let cluster: Cluster;
  let client: VolleyClient;

  beforeAll(async () => {
    cluster = await startCluster({
      toolModules: [TEST_TOOLS, APPROVAL_TOOLS, EVENT_TOOLS],
      respond: callsFromQuestion,
      orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme` },
    });
    client = new VolleyClient({ baseURL: cluster.api.baseUrl, apiKey: KEY });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when it runs a task', () => {
    it('creates it, waits for its end with waitMs, and reads answers the API schemas describe', async () => {
      const created = await client.createTask({ ...ask([nap('a', 50), nap('b', 50)]), metadata: { suite: 'client' } });
      expect(taskAckSchema.parse(created)).toEqual({ id: created.id, status: 'queued' });

      const task = await client.getTask(created.id, { waitMs: 20_000 });
      expect(taskSchema.parse(task)).toMatchObject({ id: created.id, status: 'completed', tenant: 'acme', metadata: { suite: 'client' } });
      expect(task.turns[0]!.tool_calls.map((c) => [c.id, c.status])).toEqual([
        ['a', 'succeeded'],
        ['b', 'succeeded'],
      ]);
    });

    it('gets the first answer again for a retry with the same idempotency key', async () => {
      const idempotencyKey = randomUUID();
      const first = await client.createTask(ask([nap('k', 1)]), { idempotencyKey });
      const again = await client.createTask(ask([nap('k', 1)]), { idempotencyKey });
      expect(again.id).toBe(first.id);
    });

    it('lists the tenant’s tasks by metadata, a page at a time', async () => {
      const label = randomUUID();
      const ids = [];
      for (let index = 0; index < 3; index += 1) ids.push((await client.createTask({ ...ask([nap(`l${index}`, 1)]), metadata: { label } })).id);
      const first = await client.listTasks({ metadata: { label }, limit: 2 });
      expect(taskListSchema.parse(first).tasks.map((t) => t.id)).toEqual([ids[2], ids[1]]);
      expect(first.next_cursor).toEqual(expect.any(String));
      const second = await client.listTasks({ metadata: { label }, limit: 2, cursor: first.next_cursor! });
      expect(second.tasks.map((t) => t.id)).toEqual([ids[0]]);
    });

    it('cancels a running task, refuses to delete it before, and deletes it after', async () => {
      const { id } = await client.createTask(ask([nap('long', 10_000)]));
      await taskWhen(client, id, (task) => task.status === 'running');
      await expect(client.deleteTask(id)).rejects.toMatchObject({ status: 409, code: 'task_not_finished' });

      expect(taskAckSchema.parse(await client.cancelTask(id))).toEqual({ id, status: 'cancelled' });
      // A cancel's last step may still be winding down for a moment (README, DELETE): waitFor retries.
      const deleted = await waitFor(() => client.deleteTask(id), { message: `task ${id} was never deleted` });
      expect(deletedTaskSchema.parse(deleted)).toEqual({ id, deleted: true });
      await expect(client.getTask(id)).rejects.toMatchObject({ name: 'VolleyApiError', status: 404, code: 'not_found' });
    });

    it('decides a call waiting for approval, and a second decision is a 409', async () => {
      const { id } = await client.createTask(ask([{ id: 'g1', name: 'guarded_write', arguments: { key: `rec-${randomUUID()}`, label: 'g1' } }]));
      const waiting = await taskWhen(client, id, (task) => task.status === 'awaiting_approval');
      expect(waiting.pending_approvals.map((p) => p.tool_call_id)).toEqual(['g1']);

      const answer = await client.decide(id, [{ tool_call_id: 'g1', approve: true }]);
      expect(approvalsAnswerSchema.parse(answer).decisions).toMatchObject([{ tool_call_id: 'g1', approve: true }]);
      expect((await client.getTask(id, { waitMs: 20_000 })).status).toBe('completed');
      await expect(client.decide(id, [{ tool_call_id: 'g1', approve: false }])).rejects.toMatchObject({ status: 409, code: 'already_decided' });
    });
  });

  describe('when it runs tool calls without a model', () => {
    it('answers one tool message per call in model order, with the calls’ records', async () => {
      const answer = await client.toolCalls({
        message: assistant(call('slow', 'nap', { ms: 150 }), call('fast', 'lookup_order', { order_id: 7 })) as ToolCallsRequest['message'],
      });
      expect(toolCallsAnswerSchema.parse(answer).messages.map((m) => m.tool_call_id)).toEqual(['slow', 'fast']);
      expect(JSON.parse(answer.messages[1]!.content)).toEqual({ order_id: 7, status: 'shipped' });
      expect(answer.calls.map((c) => c.status)).toEqual(['succeeded', 'succeeded']);
    });

    it('with onEvent, tells the calls’ events as they happen and resolves with the answer', async () => {
      const seen: Array<ToolCallEvent & { arrived: number }> = [];
      const message = assistant(call('p', 'report_progress', { steps: 3, ms: 150 }), call('n', 'nap', { ms: 1 })) as ToolCallsRequest['message'];
      const answer = await client.toolCalls({ message }, { onEvent: (event) => seen.push({ ...event, arrived: Date.now() }) });
      const answeredAt = Date.now();

      expect(toolCallsAnswerSchema.parse(answer).messages.map((m) => [m.tool_call_id, JSON.parse(m.content as string).steps ?? 'nap'])).toEqual([
        ['p', 3],
        ['n', 'nap'],
      ]);
      const progress = seen.filter((event) => event.event === 'tool_call.progress');
      expect(progress.map((event) => [event.data.tool_call_id, event.data.turn, event.data.value])).toEqual(
        [1, 2, 3].map((step) => ['p', null, { step, of: 3 }]),
      );
      expect(seen.filter((event) => event.event === 'tool_call.finished').map((event) => event.data.tool_call_id)).toEqual(expect.arrayContaining(['p', 'n']));
      expect(answeredAt - progress[0]!.arrived).toBeGreaterThanOrEqual(250);
    });

    it('with onEvent, throws the API’s error for a refused request, and the signal’s reason when the caller aborts', async () => {
      const onEvent = () => undefined;
      await expect(client.toolCalls({ message: assistant() as ToolCallsRequest['message'] }, { onEvent })).rejects.toMatchObject({
        name: 'VolleyApiError',
        status: 400,
        code: 'no_tool_calls',
      });
      const controller = new AbortController();
      const running = client.toolCalls(
        { message: assistant(call('long', 'nap', { ms: 5_000 })) as ToolCallsRequest['message'] },
        {
          signal: controller.signal,
          onEvent: (event) => event.event === 'tool_call.started' && controller.abort(new Error('enough')),
        },
      );
      await expect(running).rejects.toThrow('enough');
    });

    it('lists the tools the key may use', async () => {
      const { tools } = toolListSchema.parse(await client.listTools());
      expect(tools.find((tool) => tool.function.name === 'nap')).toMatchObject({ type: 'function', pool: 'default', side_effects: false });
      expect(tools.find((tool) => tool.function.name === 'guarded_write')).toMatchObject({ side_effects: true, needs_approval: true });
    });
  });

  describe('when a call fails', () => {
    it('throws VolleyApiError with the API’s status, code and message for a 4xx', async () => {
      const error = await client.createTask({ messages: [] }).catch((e: unknown) => e);
      expect(VolleyApiError.isInstance(error)).toBe(true);
      expect(error).toBeInstanceOf(VolleyApiError);
      expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
      expect((error as Error).message).toContain('messages');
    });

    it('throws 401 unauthorized without the key', async () => {
      const anonymous = new VolleyClient({ baseURL: cluster.api.baseUrl });
      await expect(anonymous.listTools()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    });

    it('throws network_error with status 0 when nothing answers', async () => {
      const nowhere = new VolleyClient({ baseURL: `http://127.0.0.1:${await freePort()}`, apiKey: KEY });
      await expect(nowhere.listTools()).rejects.toMatchObject({ name: 'VolleyApiError', status: 0, code: 'network_error' });
    });

    it('rejects with the signal’s reason, at once, when the caller aborts', async () => {
      const { id } = await client.createTask(ask([nap('slow', 3_000)]));
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 200);
      await expect(client.getTask(id, { waitMs: 10_000, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(Date.now() - started).toBeLessThan(2_000);
      await client.cancelTask(id);
    });

    it('refuses nonsense options at construction', () => {
      expect(() => new VolleyClient({ baseURL: 'localhost:3000' })).toThrow(TypeError);
      expect(() => new VolleyClient({ baseURL: 'ftp://example.com' })).toThrow(/http/);
    });
  });

  describe('when it reads a task’s events', () => {
    let taskId: string;
    let whole: TaskEvent[];

    beforeAll(async () => {
      ({ id: taskId } = await client.createTask(ask([nap('e1', 100), nap('e2', 200), nap('e3', 300)])));
      whole = await collect(client.events(taskId));
    });

    it('yields every event, in stream order, and ends after task.finished', () => {
      expect(whole.length).toBeGreaterThan(10);
      expect(whole.at(-1)!.event).toBe('task.finished');
      expect(whole.every((event) => event.data.task_id === taskId)).toBe(true);
      expect(new Set(whole.map((e) => e.id)).size).toBe(whole.length);
      expect(whole.map((e) => e.event)).toContain('tool_call.finished');
    });

    it('starts right after lastEventId', async () => {
      const after = await collect(client.events(taskId, { lastEventId: whole[4]!.id }));
      expect(after).toEqual(whole.slice(5));
    });

    it('closes the stream when the loop is left early', async () => {
      const first: TaskEvent[] = [];
      for await (const event of client.events(taskId)) {
        first.push(event);
        if (first.length === 2) break;
      }
      expect(first).toEqual(whole.slice(0, 2));
    });

    it('throws the API’s error, without retrying, for a task it may not see', async () => {
      await expect(collect(client.events('no-such-task'))).rejects.toMatchObject({ status: 404, code: 'not_found' });
    });

    describe('through a connection that drops', () => {
      let proxy: DroppingProxy;

      beforeAll(async () => {
        proxy = await startDroppingProxy(cluster.api.baseUrl);
      });

      afterAll(async () => {
        await proxy?.close();
      });

      it('resumes a live stream with Last-Event-ID after each drop: every event once, in order', async () => {
        const viaProxy = new VolleyClient({ baseURL: proxy.url, apiKey: KEY });
        const { id } = await viaProxy.createTask(ask([nap('d1', 150), nap('d2', 300), nap('d3', 450)]));
        const before = proxy.eventRequests.length;
        proxy.faultEventStreams([
          { after: 3, then: 'drop' },
          { after: 4, then: 'drop' },
        ]);
        const live = await collect(viaProxy.events(id, { reconnectDelayMs: 50 }));

        const reference = await collect(client.events(id));
        expect(live).toEqual(reference);
        expect(proxy.eventRequests.slice(before)).toEqual([null, reference[2]!.id, reference[6]!.id]);
      });

      it('replaces a connection that goes silent, once idleTimeoutMs passes', async () => {
        const viaProxy = new VolleyClient({ baseURL: proxy.url, apiKey: KEY });
        const { id } = await viaProxy.createTask(ask([nap('s1', 100), nap('s2', 200)]));
        const before = proxy.eventRequests.length;
        proxy.faultEventStreams([{ after: 2, then: 'silence' }]);
        const started = Date.now();
        const live = await collect(viaProxy.events(id, { idleTimeoutMs: 600, reconnectDelayMs: 50 }));

        const reference = await collect(client.events(id));
        expect(live).toEqual(reference);
        expect(proxy.eventRequests.slice(before)).toEqual([null, reference[1]!.id]);
        expect(Date.now() - started).toBeGreaterThanOrEqual(600);
      });

      it('stops when the signal aborts, between reconnections too', async () => {
        const viaProxy = new VolleyClient({ baseURL: proxy.url, apiKey: KEY });
        const { id } = await viaProxy.createTask(ask([nap('x1', 2_000)]));
        proxy.faultEventStreams([{ after: 1, then: 'drop' }]);
        const controller = new AbortController();
        const read: TaskEvent[] = [];
        const reading = (async () => {
          for await (const event of viaProxy.events(id, { signal: controller.signal, reconnectDelayMs: 5_000 })) read.push(event);
        })();
        await new Promise((resolve) => setTimeout(resolve, 500));
        const abortedAt = Date.now();
        controller.abort();
        await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
        expect(Date.now() - abortedAt).toBeLessThan(1_000);
        expect(read.length).toBe(1);
        await client.cancelTask(id);
      });
    });
  });
});
