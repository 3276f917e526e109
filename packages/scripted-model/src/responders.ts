import type { ChatCompletionRequest, RequestMessage, Responder, ScriptedReply, ScriptedToolCall } from './chat-completion.ts';
import { messagesSinceLastUser, messageText, toolCallNames, toolMessagesSinceLastUser } from './conversation.ts';

export interface ParallelCallsThenAnswerOptions {
  calls: ScriptedToolCall[] | ((request: ChatCompletionRequest) => ScriptedToolCall[]);
  /** Final content from the tool messages of the current turn. Default: lists their contents. */
  answer?: (toolMessages: RequestMessage[]) => string;
}

/**
 * One round of parallel tool calls, then a final answer once the results are in. "Results
 * are in" means tool messages after the last user message, so each new user message starts
 * a fresh round.
 */
export function parallelCallsThenAnswer(options: ParallelCallsThenAnswerOptions): Responder {
  const answer = options.answer ?? listToolResults;
  return (request) => {
    const toolMessages = toolMessagesSinceLastUser(request.messages);
    if (toolMessages.length > 0) return { content: answer(toolMessages) };
    const calls = typeof options.calls === 'function' ? options.calls(request) : options.calls;
    return { content: null, tool_calls: calls };
  };
}

/**
 * Answers `replies[n]` where n is the number of assistant messages since the last user
 * message; past the end, the last reply repeats. The turn is read from the conversation
 * rather than from a counter, so concurrent conversations can share one server.
 */
export function scriptedTurns(replies: readonly ScriptedReply[]): Responder {
  const last = replies.at(-1);
  if (last === undefined) throw new RangeError('scriptedTurns needs at least one reply');
  return (request) => {
    const turn = messagesSinceLastUser(request.messages).filter((message) => message.role === 'assistant');
    return replies[turn.length] ?? last;
  };
}

// In preference order; a tool the request does not offer is skipped.
const DEMO_CALLS: readonly ScriptedToolCall[] = [
  { name: 'get_weather', arguments: { city: 'Paris' } },
  { name: 'get_time', arguments: { timezone: 'Asia/Tokyo' } },
  { name: 'sleep', arguments: { ms: 300 } },
];

/** The `npm start` demo: up to three parallel calls from the offered tools, then a summary. */
export const demoResponder: Responder = (request) => {
  const turn = messagesSinceLastUser(request.messages);
  const results = turn.filter((message) => message.role === 'tool');
  if (results.length === 0) {
    const offered = new Set((request.tools ?? []).map((tool) => tool.function.name));
    const calls = DEMO_CALLS.filter((call) => offered.has(call.name));
    if (calls.length === 0) return { content: 'I have no tools to call.' };
    return { content: null, tool_calls: calls };
  }
  const names = toolCallNames(turn);
  const lines = results.map((result) => {
    const name = typeof result.tool_call_id === 'string' ? names.get(result.tool_call_id) : undefined;
    return `- ${name ?? 'unknown tool'}: ${messageText(result)}`;
  });
  return { content: `Here is what the tools returned:\n${lines.join('\n')}` };
};

function listToolResults(toolMessages: RequestMessage[]): string {
  const lines = toolMessages.map((message) => `- ${messageText(message)}`);
  return `Tool results:\n${lines.join('\n')}`;
}
