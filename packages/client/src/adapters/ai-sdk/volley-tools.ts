import { dynamicTool, jsonSchema, type JSONSchema7 } from 'ai';
import type { VolleyClient } from '../../volley-client.ts';
import { servedTools, type ServedToolsOptions } from '../served-tools.ts';
import { ToolCallBatcher, type CallOutcome, type ToolCallBatcherOptions } from '../tool-call-batcher.ts';
import { succeeded, VolleyToolCallError } from '../volley-tool-call-error.ts';
import { preliminaryResults } from './preliminary-results.ts';

export interface VolleyToolsOptions extends ServedToolsOptions, ToolCallBatcherOptions {
  /**
   * Pass each `ctx.progress(value)` of a call on as a preliminary result of that call: the
   * promise `execute` returns is also an AsyncIterable, which `streamText` streams as
   * `tool-result` parts with `preliminary: true` whose `output` is the value; the step's fan-out
   * is then streamed (`stream: true`). Off, the fan-out answers JSON and there are none.
   * @defaultValue true
   */
  progress?: boolean | undefined;
}

/** An AI SDK tool set, keyed by tool name, as `generateText` and `streamText` take it. */
export type VolleyToolSet = Record<string, ReturnType<typeof dynamicTool>>;

/**
 * The cluster's tools (`GET /v1/tools`, read once) as AI SDK tools whose `execute` runs on the
 * cluster. The SDK calls `execute` once per call, all calls of a step at once with the same
 * `messages` array: those are sent together, as one `POST /v1/tool-calls`, so the step is one
 * fan-out. They are dynamic tools, as their schemas are only known at run time.
 *
 * A result is its JSON value (Volley sends results as JSON text; text that is not JSON stays a
 * string), so the model reads the same text as in a Volley task. A failed call throws a
 * `VolleyToolCallError`, which the SDK turns into a `tool-error` part whose text is Volley's
 * error message. A tool that needs approval answers `approval_required` here: a bare fan-out
 * has no task to wait in. While a call runs, its progress reports are its preliminary results
 * (see `progress`); the SDK sends the result once more as the last preliminary one.
 */
export async function volleyTools(client: VolleyClient, options: VolleyToolsOptions = {}): Promise<VolleyToolSet> {
  const batcher = new ToolCallBatcher(client, options);
  const tools = await servedTools(client, options);
  return Object.fromEntries(
    tools.map(({ function: definition, pool }) => [
      definition.name,
      dynamicTool({
        description: definition.description,
        inputSchema: jsonSchema(definition.parameters as JSONSchema7),
        // Not sent to the model; it marks the SDK's tool-call parts as the cluster's.
        metadata: { volley: { pool } },
        execute(input, { toolCallId, messages, abortSignal }) {
          const call = { id: toolCallId, name: definition.name, arguments: JSON.stringify(input ?? {}), signal: abortSignal };
          if (options.progress === false) return resultOf(batcher.run(call, messages));
          return preliminaryResults((report) => resultOf(batcher.run({ ...call, onProgress: report }, messages)));
        },
      }),
    ]),
  );
}

async function resultOf(outcome: Promise<CallOutcome>): Promise<unknown> {
  const answered = await outcome;
  if (!succeeded(answered)) throw new VolleyToolCallError(answered);
  return resultValue(answered.content);
}

function resultValue(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}
