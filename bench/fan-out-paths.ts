import type { ToolCall } from '@volley/shared';
import type { ToolContext, ZodTool } from '@volley/tools';
import type { BareFlow } from './bare-flow.ts';
import { noopTool, sleepMsTool } from './bench-tools.ts';
import type { JsonClient } from './http-client.ts';
import { toolArguments } from './tool-functions.ts';

/**
 * The same N tool calls, three ways: through Volley's HTTP API, as a bare BullMQ flow, and
 * in-process with `Promise.all`. Each way checks that every call really succeeded, so a
 * fast error can never pass for a fast fan-out.
 */

export function toolCalls(count: number, tool: string, sleepForMs: number): ToolCall[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `call_${index}`,
    type: 'function' as const,
    function: { name: tool, arguments: toolArguments(tool, sleepForMs) },
  }));
}

interface ToolCallsAnswer {
  messages: Array<{ role: 'tool'; tool_call_id: string; content: string }>;
  calls: Array<{ id: string; status: string; error?: { code: string } }>;
}

/** `POST /v1/tool-calls`: one fan-out, answered when every call has a result. */
export async function viaVolley(api: JsonClient, calls: readonly ToolCall[]): Promise<void> {
  const answer = await api.post<ToolCallsAnswer>('/v1/tool-calls', { message: { role: 'assistant', content: null, tool_calls: calls } });
  if (answer.status !== 200) throw new Error(`POST /v1/tool-calls answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const failed = answer.body.calls.find((call) => call.status !== 'succeeded');
  if (failed || answer.body.messages.length !== calls.length) {
    throw new Error(`POST /v1/tool-calls: a call did not succeed: ${JSON.stringify(failed ?? answer.body)}`);
  }
}

export async function viaBareFlow(bare: BareFlow, calls: readonly ToolCall[]): Promise<void> {
  const values = await bare.run(calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })));
  if (Object.keys(values).length !== calls.length) throw new Error(`bare flow: ${Object.keys(values).length} of ${calls.length} results`);
}

const inProcessTools = new Map<string, ZodTool<any>>([noopTool, sleepMsTool].map((tool) => [tool.name, tool]));
const neverAborted = new AbortController().signal;

/**
 * What an in-process ToolNode does with the same calls: parse the arguments, validate them
 * with the tool's schema, run every call at once, render each result as tool-message text.
 */
export async function viaPromiseAll(calls: readonly ToolCall[]): Promise<void> {
  await Promise.all(
    calls.map(async (call) => {
      const tool = inProcessTools.get(call.function.name);
      if (!tool) throw new Error(`no in-process tool ${call.function.name}`);
      const args = tool.parameters.parse(JSON.parse(call.function.arguments));
      const ctx: ToolContext = {
        toolCallId: call.id,
        taskId: 'in-process',
        attempt: 1,
        signal: neverAborted,
        workerId: 'in-process',
        tenant: null,
        idempotencyKey: call.id,
        progress: () => undefined,
      };
      const output = await tool.execute(args, ctx);
      return typeof output === 'string' ? output : JSON.stringify(output);
    }),
  );
}
