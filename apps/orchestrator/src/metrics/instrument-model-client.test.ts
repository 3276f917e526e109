import { Metrics, VolleyError } from '@volley/shared';
import { parsePrometheusText, sampleValue } from '@volley/shared/testing';
import { describe, expect, it } from 'vitest';
import type { ModelAnswer, ModelClient, ModelRequest } from '../turn/model-client.ts';
import { instrumentModelClient } from './instrument-model-client.ts';

const request = (model: string): ModelRequest => ({ model, messages: [{ role: 'user', content: 'hi' }], tools: [] });

function answerWith(toolCalls: number): ModelAnswer {
  return {
    message: {
      role: 'assistant',
      content: null,
      ...(toolCalls > 0
        ? { tool_calls: Array.from({ length: toolCalls }, (_, i) => ({ id: `c${i}`, type: 'function' as const, function: { name: 'nap', arguments: '{}' } })) }
        : {}),
    },
    model: 'gpt-x-2025',
    finishReason: toolCalls > 0 ? 'tool_calls' : 'stop',
    usage: { prompt_tokens: 100, completion_tokens: 7 },
    startedAt: 0,
    finishedAt: 0,
  };
}

async function scrape(metrics: Metrics) {
  return parsePrometheusText((await metrics.render()).body);
}

describe('instrumentModelClient', () => {
  describe('when the model answers', () => {
    it('records the latency, the tokens and how many tool calls each answer held', async () => {
      const metrics = new Metrics({ processMetrics: false });
      const answers = [answerWith(3), answerWith(0)];
      const client = instrumentModelClient({ complete: async () => answers.shift()! }, metrics);

      await client.complete(request('gpt-x'));
      await client.complete(request('gpt-x'));
      const samples = await scrape(metrics);

      const model = { model: 'gpt-x' };
      expect(sampleValue(samples, 'volley_llm_request_duration_seconds_count', { ...model, status: 'ok' })).toBe(2);
      expect(sampleValue(samples, 'volley_llm_tokens_total', { ...model, type: 'prompt' })).toBe(200);
      expect(sampleValue(samples, 'volley_llm_tokens_total', { ...model, type: 'completion' })).toBe(14);
      expect(sampleValue(samples, 'volley_model_answer_tool_calls_count', model)).toBe(2);
      expect(sampleValue(samples, 'volley_model_answer_tool_calls_sum', model)).toBe(3);
      expect(sampleValue(samples, 'volley_model_answer_tool_calls_bucket', { ...model, le: '0' })).toBe(1);
      expect(sampleValue(samples, 'volley_model_answer_tool_calls_bucket', { ...model, le: '2' })).toBe(1);
      expect(sampleValue(samples, 'volley_model_answer_tool_calls_bucket', { ...model, le: '3' })).toBe(2);
    });
  });

  describe('when the model call fails', () => {
    it('records an error latency and rethrows the error as it was', async () => {
      const metrics = new Metrics({ processMetrics: false });
      const failure = new VolleyError('llm_error', 'the model call failed: 503');
      const failing: ModelClient = { complete: async () => Promise.reject(failure) };

      await expect(instrumentModelClient(failing, metrics).complete(request('gpt-x'))).rejects.toBe(failure);
      const samples = await scrape(metrics);

      expect(sampleValue(samples, 'volley_llm_request_duration_seconds_count', { model: 'gpt-x', status: 'error' })).toBe(1);
      expect(sampleValue(samples, 'volley_model_answer_tool_calls_count', { model: 'gpt-x' })).toBeUndefined();
    });
  });

  describe('when clients name ever more models', () => {
    it('keeps the series bounded: past 50 names, new ones count as _other', async () => {
      const metrics = new Metrics({ processMetrics: false });
      const client = instrumentModelClient({ complete: async () => answerWith(1) }, metrics);

      for (let i = 0; i < 60; i += 1) await client.complete(request(`model-${i}`));
      const samples = await scrape(metrics);

      const models = new Set(samples.filter((s) => s.name === 'volley_model_answer_tool_calls_count').map((s) => s.labels.model));
      expect(models.size).toBe(51);
      expect(sampleValue(samples, 'volley_model_answer_tool_calls_count', { model: '_other' })).toBe(10);
    });
  });
});
