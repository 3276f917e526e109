import { parallelCallsThenAnswer, type ScriptedToolCall } from '@volley/scripted-model';
import { waitFor } from '@volley/shared/testing';
import type { Redis } from 'ioredis';

/**
 * A model that asks for whatever calls the question spells out (`calls:<json>`), then answers;
 * one model serves every test of a file, each test naming its own calls.
 */
export const callsFromQuestion = parallelCallsThenAnswer({
  calls: (request) => {
    const question = String(request.messages.findLast((m) => m.role === 'user')?.content ?? '');
    return JSON.parse(question.slice(question.indexOf('calls:') + 'calls:'.length)) as ScriptedToolCall[];
  },
});

/** A tool call as a model sends it: `args` as JSON text (a string goes as is, e.g. broken JSON). */
export const call = (id: string, name: string, args: unknown = {}) => ({
  id,
  type: 'function',
  function: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args) },
});

/** An assistant message holding these tool calls. */
export const assistant = (...toolCalls: unknown[]) => ({ role: 'assistant', content: null, tool_calls: toolCalls });

/** The question whose model (`callsFromQuestion`) asks for exactly these calls, in one answer. */
export const questionFor = (calls: unknown[]) => `calls:${JSON.stringify(calls)}`;

/** A task body whose model will ask for exactly these calls. */
export const ask = (calls: unknown[]) => ({ messages: [{ role: 'user', content: questionFor(calls) }] });

/** A call of the `mark` fixture tool: it records its start in Redis, then sleeps. */
export const mark = (label: string, ms: number) => ({ id: label, name: 'mark', arguments: { label, ms } });

/** The first entry a stateful fixture tool pushed to `key`, once there is one. */
export function firstEntry<T>(redis: Redis, key: string): Promise<T> {
  return waitFor(async () => {
    const line = await redis.lindex(key, 0);
    return line ? (JSON.parse(line) as T) : undefined;
  });
}

/** A small deterministic generator, so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}
