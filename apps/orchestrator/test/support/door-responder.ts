import { messagesSinceLastUser, messageText, toolCallNames, type Responder } from '@volley/scripted-model';

/** The tool every client-tool test declares on its side: the cluster does not serve it. */
export const LOCAL_LOOKUP = {
  name: 'local_lookup',
  description: 'Look a word up in the caller’s own notes (runs in the client).',
  parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false },
} as const;

/**
 * The model behind the OpenAI-compatible routes' tests, keyed off the last user message:
 * "weather" calls the cluster's `get_weather` twice in one answer, with a line of text before;
 * "lookup" calls `local_lookup` (the client's), and `get_weather` with it when offered; with the
 * results in, it answers with each tool's name and result, in the order the calls were made.
 * "slow" naps for 10 s on the cluster. Anything else is echoed back.
 */
export const doorResponder: Responder = (request) => {
  const turn = messagesSinceLastUser(request.messages);
  const question = messageText(request.messages.findLast((message) => message.role === 'user') ?? { role: 'user', content: '' });
  const results = turn.filter((message) => message.role === 'tool');
  if (results.length > 0) {
    const names = toolCallNames(turn);
    return { content: `Answer: ${results.map((result) => `${names.get(String(result.tool_call_id)) ?? '?'}=${messageText(result)}`).join(' | ')}` };
  }
  const offered = new Set((request.tools ?? []).map((tool) => tool.function.name));
  if (/weather/i.test(question)) {
    return {
      content: 'Let me check both cities.',
      tool_calls: [
        { name: 'get_weather', arguments: { city: 'Paris' } },
        { name: 'get_weather', arguments: { city: 'Tokyo' } },
      ],
    };
  }
  if (/slow/i.test(question)) return { content: null, tool_calls: [{ name: 'nap', arguments: { ms: 10_000 } }] };
  if (/lookup/i.test(question)) {
    return {
      content: null,
      tool_calls: [
        ...(offered.has('get_weather') ? [{ name: 'get_weather', arguments: { city: 'Oslo' } }] : []),
        { name: LOCAL_LOOKUP.name, arguments: { q: 'volley' } },
      ],
    };
  }
  return { content: `You said: ${question}` };
};
