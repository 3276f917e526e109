import type { ChatMessage } from '@volley/shared';
import { describe, expect, it } from 'vitest';
import { chatRequestBody } from './chat-request-body.ts';

const FIELDS = { model: 'm', temperature: 0.2, stream: true, stream_options: { include_usage: true } };

describe('chatRequestBody', () => {
  it('is the JSON of the fields and the transcript, non-ASCII text included', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Réponds en français.' },
      { role: 'user', content: 'Quel temps fait-il à Zürich ? 🌦' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '{"temp":3,"note":"line\\nbreak \\"quoted\\""}' },
    ];

    const body = chatRequestBody(FIELDS, messages);

    expect(JSON.parse(body.toString('utf8'))).toEqual({ ...FIELDS, messages });
    expect(body.byteLength).toBe(Buffer.byteLength(JSON.stringify({ ...FIELDS, messages })));
  });

  it('carries a transcript as it grows, each message as it was when first sent', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'first' }];
    chatRequestBody(FIELDS, messages);
    const grown = [...messages, { role: 'assistant' as const, content: 'second' }, { role: 'user' as const, content: 'third' }];

    expect(JSON.parse(chatRequestBody(FIELDS, grown).toString('utf8')).messages).toEqual(grown);
    expect(JSON.parse(chatRequestBody({ model: 'm' }, []).toString('utf8'))).toEqual({ model: 'm', messages: [] });
  });
});
