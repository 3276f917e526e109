import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../tasks/task-record.ts';
import { toCallToolResult } from './call-tool-result.ts';

const ran = { pool: 'default', started_at: 1_000, finished_at: 1_042, worker_id: 'worker-1', attempts: 1 };
const succeeded: CallRecord = { id: 'mcp-1', name: 'get_weather', status: 'succeeded', ...ran };
const message = (content: string) => ({ role: 'tool' as const, tool_call_id: 'mcp-1', content });

describe('toCallToolResult', () => {
  describe('when the tool answered a JSON object', () => {
    it('is its text and its structured content, with how it ran in _meta', () => {
      const result = toCallToolResult(message('{"city":"Paris","temperature_c":21}'), succeeded);
      expect(result).toEqual({
        content: [{ type: 'text', text: '{"city":"Paris","temperature_c":21}' }],
        structuredContent: { city: 'Paris', temperature_c: 21 },
        _meta: { 'volley/call': { status: 'succeeded', ...ran } },
      });
      expect(CallToolResultSchema.safeParse(result).success).toBe(true);
    });
  });

  describe('when the tool answered something else', () => {
    it.each([
      ['a plain string', 'sunny'],
      ['an array', '[1,2]'],
      ['a number', '42'],
      ['text that only looks like JSON', '{not json'],
    ])('is text only for %s', (_what, content) => {
      const result = toCallToolResult(message(content), succeeded);
      expect(result.content).toEqual([{ type: 'text', text: content }]);
      expect(result).not.toHaveProperty('structuredContent');
      expect(result).not.toHaveProperty('isError');
    });
  });

  describe('when the call failed', () => {
    it('is an error result whose text is the error JSON the model reads', () => {
      const error = { code: 'tool_error', message: 'boom' };
      const text = JSON.stringify({ error: { ...error, hint: 'The tool failed.' } });
      const result = toCallToolResult(message(text), { ...succeeded, status: 'failed', error });
      expect(result).toEqual({
        content: [{ type: 'text', text }],
        isError: true,
        _meta: { 'volley/call': { status: 'failed', ...ran } },
      });
      expect(CallToolResultSchema.safeParse(result).success).toBe(true);
    });
  });
});
