import { randomUUID } from 'node:crypto';
import { KeySpaces } from '@volley/shared';
import { startRedis, type TestRedis } from '@volley/shared/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskRecordSchema, type TaskRecord } from '../src/tasks/task-record.ts';
import { StepSuperseded, TaskEnded, TaskStore } from '../src/tasks/task-store.ts';
import { startReplyDroppingProxy, type ReplyDroppingProxy } from './support/reply-dropping-proxy.ts';

const PREFIX = 'volley';
const TTL = 3_600;
const RESULT_BYTES = 10 * 1024;

/** A task as `createTask` makes it, every optional field set, so a read back shows each one. */
function newTask(): TaskRecord {
  const now = Date.now();
  return {
    id: randomUUID(),
    status: 'queued',
    created_at: now,
    updated_at: now,
    model: 'scripted',
    metadata: { customer: 'c-1042' },
    tenant: 'acme',
    tools: ['blob'],
    parallel_tool_calls: true,
    execution: 'parallel',
    max_turns: 100,
    require_approval: 'side_effects',
    timeout_ms: 600_000,
    deadline_at: now + 600_000,
    client_tools: [{ type: 'function', function: { name: 'ask_user', description: 'Ask the user', parameters: { type: 'object', properties: {} } } }],
    model_options: { temperature: 0.2 },
    origin: { api: 'chat.completions', input_messages: 1 },
    messages: [{ role: 'user', content: 'Fetch the pages one by one.' }],
    turns: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, llm_calls: 0, tool_calls: 0 },
    output: null,
    trace_id: null,
    task_span: null,
  };
}

/** What a step does to the record when the model answers with one call (recorded before the fan-out). */
function answer(task: TaskRecord): void {
  const index = task.turns.length;
  const call = { id: `call_${index}`, type: 'function' as const, function: { name: 'blob', arguments: '{"bytes":10240}' } };
  task.status = 'running';
  task.messages.push({ role: 'assistant', content: null, tool_calls: [call] });
  task.turns.push({
    index,
    llm: {
      started_at: Date.now(),
      finished_at: Date.now(),
      usage: { prompt_tokens: 10, completion_tokens: 5 },
      tool_call_count: 1,
      finish_reason: 'tool_calls',
    },
    tool_calls: [{ id: call.id, name: 'blob', status: 'queued', pool: 'default', started_at: null, finished_at: null, worker_id: null, attempts: 0 }],
  });
  task.usage.llm_calls += 1;
  task.usage.prompt_tokens += 10;
  task.usage.completion_tokens += 5;
}

/** What the next step's gather does: the call's result as a tool message, its record finished. */
function gather(task: TaskRecord): void {
  const turn = task.turns.at(-1)!;
  const call = turn.tool_calls[0]!;
  turn.tool_calls = [{ ...call, status: 'succeeded', started_at: Date.now(), finished_at: Date.now(), worker_id: 'w1', attempts: 1 }];
  turn.gathered_at = Date.now();
  task.messages.push({ role: 'tool', tool_call_id: call.id, content: 'x'.repeat(RESULT_BYTES) });
  task.usage.tool_calls += 1;
}

describe('TaskStore', () => {
  let server: TestRedis;
  let redis: Redis;
  /** A connection of the test's own, for INFO and direct reads: the store's commands are the only others. */
  let probe: Redis;
  let store: TaskStore;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    probe = new Redis(server.url);
    store = new TaskStore({ redis, spaces: new KeySpaces(PREFIX), ttlSeconds: TTL });
  });

  afterAll(async () => {
    await Promise.allSettled([redis?.quit(), probe?.quit()]);
    await server?.stop();
  });

  /** Bytes Redis received (`input`) or sent (`output`) while `work` ran, less the INFO that reads the count. */
  async function bytesDuring(direction: 'input' | 'output', work: () => Promise<unknown>): Promise<number> {
    const pattern = new RegExp(`total_net_${direction}_bytes:(\\d+)`);
    const count = async () => Number(pattern.exec(await probe.info('stats'))![1]);
    const info = -(await count()) + (await count());
    const before = await count();
    await work();
    return (await count()) - before - info;
  }
  const bytesSent = (work: () => Promise<unknown>) => bytesDuring('input', work);

  /** One step of the task: the gather of the turn before (if any), then the model's answer; the bytes of each write. */
  async function step(id: string, on = store): Promise<{ gather: number; answer: number }> {
    const task = (await on.get(id))!;
    let gathered = 0;
    if (task.turns.length > 0) {
      gather(task);
      gathered = await bytesSent(() => on.put(task, undefined, task.turns.length - 1));
    }
    answer(task);
    return { gather: gathered, answer: await bytesSent(() => on.put(task)) };
  }

  describe('when a task runs for many turns', () => {
    it('writes as many bytes per step at turn 50 as at turn 1: what the step added, not the transcript', async () => {
      const task = newTask();
      await store.create(task);
      const steps: Array<{ gather: number; answer: number }> = [];
      for (let turn = 0; turn <= 50; turn += 1) steps.push(await step(task.id));
      const [first, last] = [steps[1]!, steps[50]!];

      const transcript = JSON.stringify((await store.get(task.id))!.messages).length;
      expect(transcript).toBeGreaterThan(50 * RESULT_BYTES);
      // The gather sends its one result and small fields; the answer its message and turn.
      expect(first.gather).toBeGreaterThan(RESULT_BYTES);
      expect(first.gather).toBeLessThan(RESULT_BYTES + 2_048);
      expect(first.answer).toBeLessThan(2_048);
      // Only numbers grow (turn indexes, token counts, one digit more here and there).
      expect(last.gather).toBeLessThan(first.gather * 1.02);
      expect(last.answer).toBeLessThan(first.answer * 1.05);
    });

    it('reads back exactly the record it was given, in the schema’s shape', async () => {
      const task = newTask();
      await store.create(task);
      for (let turn = 0; turn < 3; turn += 1) await step(task.id);
      const ended = (await store.get(task.id))!;
      gather(ended);
      ended.status = 'completed';
      ended.output = 'All pages fetched.';
      ended.client_tool_calls = [{ id: 'c1', type: 'function', function: { name: 'ask_user', arguments: '{}' } }];
      await store.put(ended, undefined, 2);

      const read = await store.get(task.id);
      expect(read).toStrictEqual(ended);
      expect(taskRecordSchema.parse(read)).toStrictEqual(read);
      expect(Object.keys(read!)).toEqual(Object.keys(taskRecordSchema.shape).filter((field) => field in read!));
      const [header] = await store.headers([task.id]);
      const { messages: _messages, turns: _turns, ...fields } = ended;
      expect(header).toStrictEqual(fields);
    });
  });

  describe('when a step is not the task’s writer any more', () => {
    it('cannot append with a stale fence', async () => {
      const task = newTask();
      await store.create(task);
      const lockKey = `${PREFIX}:turns:${task.id}-step-0:lock`;
      await probe.set(lockKey, 'new-owner');
      const stale = (await store.get(task.id))!;
      answer(stale);

      await expect(store.put(stale, { lockKey, token: 'old-owner' })).rejects.toBeInstanceOf(StepSuperseded);
      expect(await store.get(task.id)).toStrictEqual(task);
      expect(await probe.llen(`${PREFIX}:task:${task.id}:messages`)).toBe(1);
    });

    it('cannot append after another run appended to what it read', async () => {
      const task = newTask();
      await store.create(task);
      const [first, second] = [(await store.get(task.id))!, (await store.get(task.id))!];
      answer(first);
      answer(second);
      second.messages.at(-1)!.content = 'the second run’s answer';

      await store.put(first);
      await expect(store.put(second)).rejects.toBeInstanceOf(StepSuperseded);
      expect((await store.get(task.id))!.messages).toStrictEqual(first.messages);
    });

    it('writes nothing once the task has ended', async () => {
      const task = newTask();
      await store.create(task);
      const late = (await store.get(task.id))!;
      expect(await store.end(task.id, { status: 'cancelled' })).toBe(true);
      answer(late);

      await expect(store.put(late)).rejects.toBeInstanceOf(TaskEnded);
      const read = (await store.get(task.id))!;
      expect(read.status).toBe('cancelled');
      expect(read.messages).toStrictEqual(task.messages);
    });
  });

  describe('when a write’s reply is lost and ioredis sends it again', () => {
    let proxy: ReplyDroppingProxy;
    let viaProxy: Redis;

    beforeAll(async () => {
      proxy = await startReplyDroppingProxy(server.port);
      viaProxy = new Redis(proxy.url, { maxRetriesPerRequest: null });
    });

    afterAll(async () => {
      viaProxy?.disconnect();
      await proxy?.close();
    });

    it('appends its messages once', async () => {
      const flaky = new TaskStore({ redis: viaProxy, spaces: new KeySpaces(PREFIX), ttlSeconds: TTL });
      const task = newTask();
      await flaky.create(task);
      const read = (await flaky.get(task.id))!;
      answer(read);
      const connections = proxy.connections;

      proxy.dropNextReply();
      await flaky.put(read);

      expect(proxy.connections).toBeGreaterThan(connections);
      expect(await probe.llen(`${PREFIX}:task:${task.id}:messages`)).toBe(2);
      expect(await store.get(task.id)).toStrictEqual(read);
    });
  });

  describe('when the steps’ store keeps transcripts', () => {
    it('reads only the messages added since it last read or wrote, whoever added them', async () => {
      const caching = new TaskStore({ redis, spaces: new KeySpaces(PREFIX), ttlSeconds: TTL, transcriptCacheBytes: 16 * 1024 * 1024 });
      const task = newTask();
      await store.create(task);
      for (let turn = 0; turn < 20; turn += 1) await step(task.id);
      await step(task.id, caching);
      // Other orchestrators run the next steps.
      for (let turn = 0; turn < 5; turn += 1) await step(task.id);

      const whole = await bytesDuring('output', () => store.get(task.id));
      let read: TaskRecord | undefined;
      const since = await bytesDuring('output', async () => {
        read = await caching.get(task.id);
      });
      expect(whole).toBeGreaterThan(25 * RESULT_BYTES);
      expect(since).toBeLessThan(whole / 3);
      expect(read).toStrictEqual(await store.get(task.id));
    });

    it('reads the whole list when it is shorter than the transcript it holds', async () => {
      const caching = new TaskStore({ redis, spaces: new KeySpaces(PREFIX), ttlSeconds: TTL, transcriptCacheBytes: 16 * 1024 * 1024 });
      const task = newTask();
      await store.create(task);
      for (let turn = 0; turn < 3; turn += 1) await step(task.id, caching);
      await probe.del(...store.keysOf(task.id));
      const again = { ...newTask(), id: task.id };
      await store.create(again);

      expect(await caching.get(task.id)).toStrictEqual(again);
    });
  });

  describe('keys', () => {
    it('names every key the task has, each with a TTL', async () => {
      const task = newTask();
      await store.create(task);
      await step(task.id);
      await step(task.id);
      await store.end(task.id, { status: 'cancelled' });

      const keys = await probe.keys(`${PREFIX}:task:${task.id}*`);
      expect(keys.sort()).toEqual([...store.keysOf(task.id)].sort());
      for (const key of keys) expect(await probe.ttl(key), key).toBeGreaterThan(TTL - 60);
    });
  });

  describe('when a record was written in the old layout (one JSON document)', () => {
    it('reads it as it is, and its next write converts it without losing or repeating a message', async () => {
      const task = newTask();
      answer(task);
      const stem = `${PREFIX}:task:${task.id}`;
      await probe.set(stem, JSON.stringify(task), 'EX', TTL);

      expect(await store.get(task.id)).toStrictEqual(task);
      expect((await store.headers([task.id]))[0]).toMatchObject({ id: task.id, status: 'running' });
      const next = (await store.get(task.id))!;
      gather(next);
      await store.put(next, undefined, 0);

      expect(await probe.type(stem)).toBe('hash');
      expect(await probe.llen(`${stem}:messages`)).toBe(3);
      expect(await store.get(task.id)).toStrictEqual(next);
    });
  });
});
