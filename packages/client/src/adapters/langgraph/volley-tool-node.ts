import { isAIMessage, isBaseMessage, type AIMessage, type BaseMessage, type ToolMessage } from '@langchain/core/messages';
import { Runnable, type RunnableConfig } from '@langchain/core/runnables';
import type { VolleyClient } from '../../volley-client.ts';
import { ToolCallBatcher, type BatchedCall } from '../tool-call-batcher.ts';
import { volleyToolMessage } from './volley-tool-message.ts';

export interface VolleyToolNodeOptions {
  /**
   * `timeout_ms` of each fan-out: at this deadline unfinished calls answer `tool_timeout`.
   * @defaultValue the orchestrator's `VOLLEY_TOOL_CALLS_TIMEOUT_MS`
   */
  timeoutMs?: number | undefined;
  /** @defaultValue 'tools' */
  name?: string | undefined;
}

/**
 * LangGraph's `ToolNode` with the cluster doing the work: the last `AIMessage`'s calls (those no
 * `ToolMessage` answers yet) go out as one `POST /v1/tool-calls`, one fan-out, and come back as
 * one `ToolMessage` per `tool_call_id`, in the message's order. It takes what `ToolNode` takes:
 * a messages state (`{ messages }`, answered `{ messages: ToolMessage[] }`, for
 * `MessagesAnnotation`), a list of messages, or an `AIMessage` alone (both answered with the list).
 *
 * Calls the chat model could not parse (`invalid_tool_calls`) go too, with their raw argument
 * text, so the model is told what was wrong with each of its calls, by Volley, in its own words.
 */
// biome-ignore lint/suspicious/noExplicitAny: as LangGraph's own ToolNode, the node's state type defaults to any so it drops into any graph.
export class VolleyToolNode<T = any> extends Runnable<T, T> {
  lc_namespace = ['volley', 'langgraph'];
  private readonly batcher: ToolCallBatcher;

  constructor(client: VolleyClient, options: VolleyToolNodeOptions = {}) {
    super();
    this.batcher = new ToolCallBatcher(client, { timeoutMs: options.timeoutMs });
    this.name = options.name ?? 'tools';
  }

  override invoke(input: T, options?: Partial<RunnableConfig>): Promise<T> {
    return this._callWithConfig((value: T, config?: Partial<RunnableConfig>) => this.run(value, config), input, options);
  }

  private async run(input: T, config: Partial<RunnableConfig> = {}): Promise<T> {
    const messages = messagesOf(input);
    const answered = new Set(messages.flatMap((message) => (message.getType() === 'tool' ? [(message as ToolMessage).tool_call_id] : [])));
    const last = messages.findLast((message) => isAIMessage(message));
    if (!last) throw new TypeError('VolleyToolNode: no AIMessage in its input');
    const calls = callsOf(last as AIMessage, config.signal).filter((call) => !answered.has(call.id));
    // One step object for the whole message: the batcher sends all its calls in one request.
    const step = {};
    const toolMessages = (await Promise.all(calls.map((call) => this.batcher.run(call, step)))).map(volleyToolMessage);
    return (Array.isArray(input) || isBaseMessage(input) ? toolMessages : { messages: toolMessages }) as T;
  }
}

function messagesOf(input: unknown): BaseMessage[] {
  if (Array.isArray(input)) return input as BaseMessage[];
  if (isBaseMessage(input)) return [input];
  const messages = (input as { messages?: unknown } | null)?.messages;
  if (Array.isArray(messages)) return messages as BaseMessage[];
  throw new TypeError('VolleyToolNode takes { messages: BaseMessage[] }, BaseMessage[] or an AIMessage');
}

function callsOf(message: AIMessage, signal: AbortSignal | undefined): BatchedCall[] {
  const parsed = (message.tool_calls ?? []).map((call) => ({ id: call.id, name: call.name, arguments: JSON.stringify(call.args ?? {}) }));
  const unparsed = (message.invalid_tool_calls ?? []).map((call) => ({ id: call.id, name: call.name ?? '', arguments: call.args ?? '' }));
  // The API needs an id per call; one the model left out is made up, as ToolNode would leave it empty.
  return [...parsed, ...unparsed].map((call) => ({ ...call, id: call.id || `call_${globalThis.crypto.randomUUID()}`, signal }));
}
