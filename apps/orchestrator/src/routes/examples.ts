/**
 * The document's examples: one conversation (weather in Paris, time in Tokyo) seen from each
 * route. `test/openapi.test.ts` parses every one with its route's schema, so they stay true.
 */

const CREATED_AT = 1764628800000;
const TASK_ID = '3f0c9a4e-8b1d-4c52-9f7e-2a6d1b0c5e11';

const callWeather = { id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
const callTime = { id: 'call_2', type: 'function' as const, function: { name: 'get_time', arguments: '{"timezone":"Asia/Tokyo"}' } };
const assistantCalls = { role: 'assistant' as const, content: null, tool_calls: [callWeather, callTime] };
const toolMessages = [
  { role: 'tool' as const, tool_call_id: 'call_1', content: '{"city":"Paris","temperature_c":18,"sky":"cloudy"}' },
  { role: 'tool' as const, tool_call_id: 'call_2', content: '{"timezone":"Asia/Tokyo","time":"23:40"}' },
];
const question = { role: 'user' as const, content: 'Weather in Paris and time in Tokyo?' };
const answer = 'It is 18 °C and cloudy in Paris, and 23:40 in Tokyo.';
const usage = { prompt_tokens: 212, completion_tokens: 61, llm_calls: 2, tool_calls: 2 };
const metadata = { customer: 'c-1042', 'run.id': 'nightly-7' };

export const CREATE_TASK_EXAMPLE = {
  messages: [question],
  tools: ['get_weather', 'get_time'],
  model: 'gpt-4.1-mini',
  parallel_tool_calls: true,
  max_turns: 10,
  timeout_ms: 120000,
  metadata,
};

export const TASK_ACCEPTED_EXAMPLE = { id: TASK_ID, status: 'queued' as const };

const calls = [
  {
    id: 'call_1',
    name: 'get_weather',
    status: 'succeeded' as const,
    pool: 'default',
    started_at: CREATED_AT + 246,
    finished_at: CREATED_AT + 501,
    worker_id: 'worker-1',
    attempts: 1,
  },
  {
    id: 'call_2',
    name: 'get_time',
    status: 'succeeded' as const,
    pool: 'default',
    started_at: CREATED_AT + 248,
    finished_at: CREATED_AT + 270,
    worker_id: 'worker-2',
    attempts: 1,
  },
];

export const TASK_EXAMPLE = {
  id: TASK_ID,
  tenant: 'acme',
  status: 'completed' as const,
  created_at: CREATED_AT,
  updated_at: CREATED_AT + 766,
  model: 'gpt-4.1-mini',
  metadata,
  tools: ['get_weather', 'get_time'],
  parallel_tool_calls: true,
  execution: 'parallel' as const,
  max_turns: 10,
  timeout_ms: 120000,
  deadline_at: CREATED_AT + 120000,
  messages: [question, assistantCalls, ...toolMessages, { role: 'assistant' as const, content: answer }],
  turns: [
    {
      index: 0,
      llm: { started_at: CREATED_AT + 5, finished_at: CREATED_AT + 240, usage: { prompt_tokens: 98, completion_tokens: 40 }, tool_call_count: 2 },
      tool_calls: calls,
      gathered_at: CREATED_AT + 505,
    },
  ],
  usage,
  output: answer,
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  task_span: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7', parent_span_id: null, start: CREATED_AT },
  pending_approvals: [],
};

export const TASK_LIST_EXAMPLE = {
  tasks: [{ id: TASK_ID, status: 'completed' as const, created_at: CREATED_AT, updated_at: CREATED_AT + 766, model: 'gpt-4.1-mini', metadata, usage }],
  next_cursor: 'WzE3NjQ2Mjg4MDAwMDAsIjNmMGM5YTRlLThiMWQtNGM1Mi05ZjdlLTJhNmQxYjBjNWUxMSJd',
};

export const TOOL_CALLS_EXAMPLE = { message: assistantCalls, timeout_ms: 30000 };

export const TOOL_CALLS_ANSWER_EXAMPLE = { messages: toolMessages, calls };

const FAN_OUT_ID = 'tc-7d2e41b0-5c3a-4f8e-9b61-0a4c2d8e3f75';

export const TOOL_CALLS_STREAM_EXAMPLE = [
  [
    'tool_call.started',
    { task_id: FAN_OUT_ID, at: CREATED_AT + 246, turn: null, tool_call_id: 'call_1', name: 'get_weather', attempt: 1, worker_id: 'worker-1' },
  ],
  ['tool_call.started', { task_id: FAN_OUT_ID, at: CREATED_AT + 248, turn: null, tool_call_id: 'call_2', name: 'get_time', attempt: 1, worker_id: 'worker-2' }],
  [
    'tool_call.finished',
    {
      task_id: FAN_OUT_ID,
      at: CREATED_AT + 270,
      turn: null,
      tool_call_id: 'call_2',
      name: 'get_time',
      status: 'succeeded',
      error_code: null,
      ms: 22,
      attempts: 1,
      worker_id: 'worker-2',
    },
  ],
  ['tool_call.progress', { task_id: FAN_OUT_ID, at: CREATED_AT + 300, turn: null, tool_call_id: 'call_1', name: 'get_weather', value: { stage: 'forecast' } }],
  [
    'tool_call.finished',
    {
      task_id: FAN_OUT_ID,
      at: CREATED_AT + 501,
      turn: null,
      tool_call_id: 'call_1',
      name: 'get_weather',
      status: 'succeeded',
      error_code: null,
      ms: 255,
      attempts: 1,
      worker_id: 'worker-1',
    },
  ],
  ['tool_calls.completed', TOOL_CALLS_ANSWER_EXAMPLE],
]
  .map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  .join('');

export const APPROVALS_EXAMPLE = {
  decisions: [
    { tool_call_id: 'call_1', approve: true },
    { tool_call_id: 'call_2', approve: true, arguments: '{"amount": 90}' },
    { tool_call_id: 'call_3', approve: false, reason: 'not this account' },
  ],
};

export const APPROVALS_ANSWER_EXAMPLE = {
  id: TASK_ID,
  decisions: APPROVALS_EXAMPLE.decisions.map(({ tool_call_id, approve }) => ({ tool_call_id, approve, decided_at: CREATED_AT + 9000 })),
};

export const TOOLS_EXAMPLE = {
  tools: [
    {
      type: 'function' as const,
      function: {
        name: 'get_weather',
        description: 'The weather in a city now',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
      },
      pool: 'default',
      workers: 2,
      side_effects: false,
    },
    {
      type: 'function' as const,
      function: { name: 'transfer', description: 'Moves money between accounts', parameters: { type: 'object', properties: { amount: { type: 'number' } } } },
      pool: 'payments',
      workers: 1,
      side_effects: true,
      needs_approval: true,
    },
  ],
};

export const TASK_EVENTS_EXAMPLE = [
  'id: 1764628800123-0',
  'event: tool_call.finished',
  `data: {"task_id":"${TASK_ID}","at":1764628800123,"turn":0,"tool_call_id":"call_1","name":"get_weather","status":"succeeded","error_code":null,"ms":42,"attempts":1,"worker_id":"worker-1"}`,
  '',
  '',
].join('\n');

export const CHAT_COMPLETION_REQUEST_EXAMPLE = {
  model: 'gpt-4.1-mini',
  messages: [question],
  tools: [
    { type: 'function', function: { name: 'get_weather' } },
    { type: 'function', function: { name: 'get_time' } },
  ],
  parallel_tool_calls: true,
};

export const CHAT_COMPLETION_EXAMPLE = {
  id: `chatcmpl-${TASK_ID}`,
  object: 'chat.completion' as const,
  created: Math.floor(CREATED_AT / 1000),
  model: 'gpt-4.1-mini',
  choices: [{ index: 0, message: { role: 'assistant' as const, content: answer, refusal: null }, logprobs: null, finish_reason: 'stop' as const }],
  usage: { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  system_fingerprint: null,
};

export const CHAT_COMPLETION_STREAM_EXAMPLE = [
  { choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] },
  { choices: [{ index: 0, delta: { content: answer }, logprobs: null, finish_reason: null }] },
  { choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
]
  .map(
    (chunk) =>
      `data: ${JSON.stringify({ id: `chatcmpl-${TASK_ID}`, object: 'chat.completion.chunk', created: Math.floor(CREATED_AT / 1000), model: 'gpt-4.1-mini', system_fingerprint: null, ...chunk })}\n\n`,
  )
  .concat('data: [DONE]\n\n')
  .join('');

export const RESPONSES_REQUEST_EXAMPLE = {
  model: 'gpt-4.1-mini',
  instructions: 'Answer in one sentence.',
  input: 'Weather in Paris and time in Tokyo?',
  tools: [
    { type: 'function', name: 'get_weather' },
    { type: 'function', name: 'get_time' },
  ],
};

export const RESPONSE_EXAMPLE = {
  id: `resp_${TASK_ID}`,
  object: 'response' as const,
  created_at: Math.floor(CREATED_AT / 1000),
  model: 'gpt-4.1-mini',
  status: 'completed' as const,
  instructions: 'Answer in one sentence.',
  output: [
    {
      type: 'message' as const,
      id: `msg_${TASK_ID}`,
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: answer, annotations: [], logprobs: [] }],
    },
  ],
  usage: {
    input_tokens: 212,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 61,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 273,
  },
  error: null,
};

export const RESPONSE_STREAM_EXAMPLE = [
  ['response.created', { type: 'response.created', sequence_number: 0, response: { ...RESPONSE_EXAMPLE, status: 'in_progress', output: [], usage: null } }],
  [
    'response.output_text.delta',
    { type: 'response.output_text.delta', sequence_number: 3, item_id: `msg_${TASK_ID}`, output_index: 0, content_index: 0, delta: answer },
  ],
  ['response.completed', { type: 'response.completed', sequence_number: 7, response: RESPONSE_EXAMPLE }],
]
  .map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  .join('');
