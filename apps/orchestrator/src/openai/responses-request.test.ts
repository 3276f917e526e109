import { VolleyError } from '@volley/shared';
import { describe, expect, it } from 'vitest';
import { messagesOf, responsesRequestSchema, responsesTaskOf } from './responses-request.ts';

const parse = (body: unknown) => responsesRequestSchema.parse(body);

describe('messagesOf', () => {
  it('turns a string into one user message', () => {
    expect(messagesOf('hi')).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('gathers one answer’s function calls into one assistant message, each output a tool message', () => {
    const messages = messagesOf(
      parse({
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'two calls' }] },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          { type: 'function_call', id: 'fc_1', call_id: 'a', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' },
          { type: 'function_call', id: 'fc_2', call_id: 'b', name: 'get_time', arguments: '{}' },
          { type: 'function_call_output', call_id: 'a', output: 'sunny' },
          { type: 'function_call_output', call_id: 'b', output: [{ type: 'input_text', text: 'noon' }] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Sunny at noon.', annotations: [] }] },
        ],
      }).input,
    );
    expect(messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'two calls' }] },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'a', content: 'sunny' },
      { role: 'tool', tool_call_id: 'b', content: 'noon' },
      { role: 'assistant', content: 'Sunny at noon.' },
    ]);
  });

  it('puts calls that follow an answer’s text on that answer', () => {
    const messages = messagesOf(
      parse({
        input: [
          { role: 'assistant', content: 'Checking.' },
          { type: 'function_call', call_id: 'a', name: 'f', arguments: '{}' },
        ],
      }).input,
    );
    expect(messages).toEqual([
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ]);
  });

  it('refuses items and parts it cannot carry, naming them', () => {
    expect(() => messagesOf(parse({ input: [{ type: 'item_reference', id: 'x' }] }).input)).toThrow(/item_reference/);
    expect(() => messagesOf(parse({ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }).input)).toThrow(/input_file/);
  });
});

describe('responsesTaskOf', () => {
  it('maps the Responses settings onto the model options Chat Completions names', () => {
    const door = responsesTaskOf(
      parse({
        input: 'hi',
        max_output_tokens: 50,
        temperature: 0.2,
        tool_choice: { type: 'function', name: 'get_weather' },
        text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
        reasoning: { effort: 'low' },
        store: true,
        include: [],
        truncation: 'disabled',
      }),
      [],
      'default-model',
    );
    expect(door.model).toBe('default-model');
    expect(door.model_options).toEqual({
      max_completion_tokens: 50,
      temperature: 0.2,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } },
      reasoning_effort: 'low',
    });
  });

  it('refuses what it cannot do with unsupported_parameter', () => {
    for (const body of [
      { input: 'hi', background: true },
      { input: 'hi', conversation: 'conv_1' },
      { input: 'hi', tools: [{ type: 'file_search' }] },
    ]) {
      const error = (() => {
        try {
          responsesTaskOf(parse(body), [], 'm');
        } catch (caught) {
          return caught;
        }
      })();
      expect(VolleyError.isInstance(error) && error.code).toBe('unsupported_parameter');
    }
  });
});
