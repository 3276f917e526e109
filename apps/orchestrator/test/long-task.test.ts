import { taskEventDataSchema, taskSchema } from '@volley/api-schemas';
import type { Responder } from '@volley/scripted-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';

const SIZED_TOOLS = new URL('./fixtures/sized-tools.ts', import.meta.url).pathname;
import { readSse, type SseRead } from './support/sse.ts';

/** Turns with tool calls before the final answer: a transcript of about 2 × 10 KB a turn. */
const TURNS = 30;
const RESULT_BYTES = 10 * 1024;
const MAX_RESULT_BYTES = 64 * 1024;
/** The turn whose second call answers more than the workers keep. */
const BIG_TURN = 7;
const BIG_BYTES = 100_000;

/** Two calls per answer, one of them too large in turn BIG_TURN, until TURNS answers had calls. */
const respond: Responder = (request) => {
  const turn = request.messages.filter((message) => message.role === 'assistant').length;
  if (turn >= TURNS) return { content: `Read ${request.messages.filter((message) => message.role === 'tool').length} results.` };
  return {
    content: null,
    tool_calls: [
      { id: `t${turn}a`, name: 'sized_result', arguments: { bytes: RESULT_BYTES } },
      { id: `t${turn}b`, name: 'sized_result', arguments: { bytes: turn === BIG_TURN ? BIG_BYTES : RESULT_BYTES } },
    ],
  };
};

describe('a task of many turns with large tool results', () => {
  let cluster: Cluster;
  let task: any;
  let events: SseRead;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, respond, toolModules: [SIZED_TOOLS], workerEnv: { VOLLEY_MAX_RESULT_BYTES: String(MAX_RESULT_BYTES) } });
    const { status, body } = await cluster.api.post('/v1/tasks', { messages: [{ role: 'user', content: 'Read every page.' }], max_turns: TURNS + 1 });
    expect(status).toBe(202);
    task = await cluster.api.waitForTask(body.id, 60_000);
    events = await readSse(`${cluster.api.baseUrl}/v1/tasks/${body.id}/events`);
  }, 90_000);

  afterAll(() => cluster?.stop());

  it('completes, every turn and every result in the transcript, in the model’s order', () => {
    expect(task.status, JSON.stringify(task.error)).toBe('completed');
    expect(task.turns.map((turn: any) => turn.index)).toEqual(Array.from({ length: TURNS + 1 }, (_, index) => index));
    const expected = ['user', ...Array.from({ length: TURNS }, () => ['assistant', 'tool', 'tool']).flat(), 'assistant'];
    expect(task.messages.map((message: any) => message.role)).toEqual(expected);
    const ids = task.messages.filter((message: any) => message.role === 'tool').map((message: any) => message.tool_call_id);
    expect(ids).toEqual(Array.from({ length: TURNS }, (_, turn) => [`t${turn}a`, `t${turn}b`]).flat());
    expect(task.output).toBe(`Read ${2 * TURNS} results.`);
    expect(task.usage).toMatchObject({ llm_calls: TURNS + 1, tool_calls: 2 * TURNS });
  });

  it('answers GET /v1/tasks/:id in the documented shape, and the model was sent the whole transcript', () => {
    expect(taskSchema.parse(task)).toStrictEqual(task);
    const last = cluster.model.requests.at(-1)!.body.messages;
    expect(last.map((message) => message.role)).toEqual(task.messages.slice(0, -1).map((message: any) => message.role));
    expect(last.filter((message) => message.role === 'tool').map((message) => message.content)).toEqual(
      task.messages.filter((message: any) => message.role === 'tool').map((message: any) => message.content),
    );
  });

  it('keeps the history as entries: one list item per message, one hash field per turn', async () => {
    expect(await cluster.client.type(`volley:task:${task.id}`)).toBe('hash');
    expect(await cluster.client.llen(`volley:task:${task.id}:messages`)).toBe(task.messages.length);
    expect(await cluster.client.hlen(`volley:task:${task.id}:turns`)).toBe(TURNS + 1);
  });

  it('turns a result larger than VOLLEY_MAX_RESULT_BYTES into a result_too_large error message, and the task goes on', () => {
    const message = task.messages.find((m: any) => m.tool_call_id === `t${BIG_TURN}b`);
    const { error } = JSON.parse(message.content);
    expect(error.code).toBe('result_too_large');
    expect(error.message).toContain(`${BIG_BYTES} bytes`);
    expect(error.message).toContain(String(MAX_RESULT_BYTES));
    expect(task.turns[BIG_TURN].tool_calls[1]).toMatchObject({ status: 'failed', error: { code: 'result_too_large' } });
    // The call beside it, and every turn after, went on as usual.
    expect(task.messages.find((m: any) => m.tool_call_id === `t${BIG_TURN}a`).content).toHaveLength(RESULT_BYTES);
    expect(task.turns.slice(BIG_TURN + 1).every((turn: any) => turn.tool_calls.every((call: any) => call.status === 'succeeded'))).toBe(true);
  });

  it('streams the events of every turn, in the documented shape, task.finished last', () => {
    expect(events.ended).toBe(true);
    for (const event of events.events) expect(taskEventDataSchema.safeParse(JSON.parse(event.data)).success, event.data).toBe(true);
    const count = (name: string) => events.events.filter((event) => event.event === name).length;
    expect([count('llm.started'), count('llm.finished'), count('turn.gathered')]).toEqual([TURNS + 1, TURNS + 1, TURNS]);
    expect([count('tool_call.queued'), count('tool_call.started'), count('tool_call.finished')]).toEqual([2 * TURNS, 2 * TURNS, 2 * TURNS]);
    const big = events.events.map((event) => JSON.parse(event.data)).find((data) => data.tool_call_id === `t${BIG_TURN}b` && data.status === 'failed');
    expect(big).toMatchObject({ turn: BIG_TURN, error_code: 'result_too_large' });
    const finished = events.events.at(-1)!;
    expect(finished.event).toBe('task.finished');
    expect(JSON.parse(finished.data)).toMatchObject({ status: 'completed', usage: { llm_calls: TURNS + 1, tool_calls: 2 * TURNS } });
  });
});
