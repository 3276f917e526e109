import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBadCases, loadValidCases, selectConsistentCases, type BadCase, type CorpusCase } from './fixtures/corpus/corpus.ts';
import { startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';

const CORPUS_TOOLS = fileURLToPath(new URL('./fixtures/corpus-tools.ts', import.meta.url));
const valid = selectConsistentCases(loadValidCases());
// Adversarial variants whose tools agree with the served ones (most are derived from them).
const bad = selectConsistentCases(loadBadCases(), new Map(valid.tools));

/** Runs `work` over `items` with at most `limit` in flight. */
async function inBatches<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

/** Asks every worker for Object.prototype's keys: the adversarial keys must not have landed. */
async function expectPrototypesUntouched(cluster: Cluster) {
  const pristine = Object.getOwnPropertyNames(Object.prototype).sort();
  const probes = Array.from({ length: 40 }, (_, index) => ({
    id: `probe_${index}`,
    type: 'function',
    function: { name: 'prototype_keys', arguments: '{"hold_ms": 50}' },
  }));
  const { body } = await cluster.api.post('/v1/tool-calls', { message: { role: 'assistant', content: null, tool_calls: probes } });
  const reports = body.messages.map((m: any) => JSON.parse(m.content));
  expect(new Set(reports.map((r: any) => r.worker))).toEqual(new Set(['worker-1', 'worker-2']));
  for (const report of reports) expect(report.keys).toEqual(pristine);
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(pristine);
}

describe('the parallel tool-call corpus, end to end', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [CORPUS_TOOLS, TEST_TOOLS],
      workerEnv: { VOLLEY_BUILTIN_TOOLS: 'false' },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves a generous sample: most real cases are runnable together', () => {
    expect(valid.selected.length).toBeGreaterThanOrEqual(350);
    expect(bad.selected.length).toBeGreaterThanOrEqual(55);
  });

  describe('when real cases fan out', () => {
    it('delivers every call its arguments intact and returns its result under its own tool_call_id', async () => {
      const outcomes = await inBatches(valid.selected, 8, async (corpusCase: CorpusCase) => {
        const { status, body } = await cluster.api.post('/v1/tool-calls', { message: corpusCase.assistant_message });
        return { corpusCase, status, body };
      });
      let calls = 0;
      for (const { corpusCase, status, body } of outcomes) {
        expect(status, corpusCase.source).toBe(200);
        const toolCalls = corpusCase.assistant_message.tool_calls!;
        expect(
          body.messages.map((m: any) => m.tool_call_id),
          corpusCase.source,
        ).toEqual(toolCalls.map((c) => c.id));
        toolCalls.forEach((call, index) => {
          const echoed = JSON.parse(body.messages[index].content);
          expect(echoed, `${corpusCase.source} ${call.id}`).toEqual({
            tool: call.function.name,
            tool_call_id: call.id,
            args: JSON.parse(call.function.arguments as string),
          });
          expect(body.calls[index]).toMatchObject({ id: call.id, name: call.function.name, status: 'succeeded' });
        });
        calls += toolCalls.length;
      }
      expect(calls).toBeGreaterThan(1000);
    });
  });

  describe('when adversarial variants fan out', () => {
    it('answers each as its expectation says: error tool messages, a 4xx, or every call run', async () => {
      const outcomes = await inBatches(bad.selected, 4, async (badCase: BadCase) => {
        const { status, body } = await cluster.api.post('/v1/tool-calls', { message: badCase.assistant_message });
        return { badCase, status, body };
      });
      await expectPrototypesUntouched(cluster);
      for (const { badCase, status, body } of outcomes) {
        const label = badCase.id;
        const calls = badCase.assistant_message.tool_calls ?? [];
        if (badCase.expect.outcome === 'reject_message') {
          expect(status, label).toBeGreaterThanOrEqual(400);
          expect(status, label).toBeLessThan(500);
          expect(body.error, label).toEqual({ code: expect.any(String), message: expect.any(String) });
          continue;
        }
        if (badCase.expect.outcome === 'execute_all' && status === 400) {
          // Documented limit (VOLLEY_MAX_TOOL_CALLS, 128 by default): the case's also_acceptable.
          expect(body.error.code, label).toBe('too_many_tool_calls');
          expect(calls.length, label).toBeGreaterThan(128);
          continue;
        }
        expect(status, label).toBe(200);
        expect(
          body.messages.map((m: any) => m.tool_call_id),
          label,
        ).toEqual(calls.map((c) => c.id));
        const affected = new Set(badCase.expect.outcome === 'call_error' ? badCase.expect.affected_call_ids : []);
        calls.forEach((call, index) => {
          const content = JSON.parse(body.messages[index].content);
          if (affected.has(call.id)) {
            expect(content.error?.code, `${label} ${call.id}`).toMatch(
              /^(invalid_arguments_json|arguments_not_object|arguments_schema_violation|arguments_too_deep|unknown_tool)$/,
            );
            expect(body.calls[index].status).toBe('failed');
          } else if (content.error?.code === 'arguments_too_large') {
            // Documented limit (VOLLEY_MAX_ARGUMENT_BYTES, 1 MiB by default): the case's also_acceptable.
            expect(Buffer.byteLength(call.function.arguments as string), label).toBeGreaterThan(1024 * 1024);
            expect(badCase.expect.also_acceptable?.join(' '), label).toContain('arguments_too_large');
          } else {
            expect(content.error, `${label} ${call.id}`).toBeUndefined();
            expect(content.tool_call_id, `${label} ${call.id}`).toBe(call.id);
          }
        });
      }
    });
  });
});
