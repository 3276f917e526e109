import { limitLabelValues, type Metrics } from '@volley/shared';
import type { ModelClient } from '../turn/model-client.ts';

/** How many calls one model answer holds: the parallelism the model really uses. */
const TOOL_CALLS_BUCKETS = [0, 1, 2, 3, 4, 5, 8, 16, 32, 64, 128] as const;
/** Seconds: a local model answers in tens of ms, a long reasoning answer takes minutes. */
const LLM_LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300] as const;
/** A task names its model: past this many distinct names, new ones are labelled `_other`. */
const MAX_MODEL_LABELS = 50;

/**
 * The model client, measured: each request's latency by model and status (an error is a
 * request that failed after the SDK's retries), the tokens it reports, and how many tool calls
 * each answer holds. The model label is the one the task asked for.
 */
export function instrumentModelClient(client: ModelClient, metrics: Metrics): ModelClient {
  const duration = metrics.histogram(
    'volley_llm_request_duration_seconds',
    'Model requests (chat completions, the SDK retries included) by model and status (ok|error).',
    ['model', 'status'],
    LLM_LATENCY_BUCKETS_S,
  );
  const tokens = metrics.counter('volley_llm_tokens_total', 'Tokens the model endpoint reported, by model and type (prompt|completion).', ['model', 'type']);
  const toolCalls = metrics.histogram(
    'volley_model_answer_tool_calls',
    'Tool calls per model answer: how many calls the model asks for at once (0: a final answer).',
    ['model'],
    TOOL_CALLS_BUCKETS,
  );
  const modelLabel = limitLabelValues(MAX_MODEL_LABELS);
  return {
    async complete(request) {
      const model = modelLabel(request.model);
      const started = performance.now();
      try {
        const answer = await client.complete(request);
        duration.observe({ model, status: 'ok' }, (performance.now() - started) / 1000);
        tokens.inc({ model, type: 'prompt' }, answer.usage.prompt_tokens);
        tokens.inc({ model, type: 'completion' }, answer.usage.completion_tokens);
        toolCalls.observe({ model }, answer.message.tool_calls?.length ?? 0);
        return answer;
      } catch (error) {
        duration.observe({ model, status: 'error' }, (performance.now() - started) / 1000);
        throw error;
      }
    },
  };
}
