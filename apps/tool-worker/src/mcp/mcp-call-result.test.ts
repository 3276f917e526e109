import { ToolError } from '@volley/shared';
import { describe, expect, it } from 'vitest';
import { toolOutputOf } from './mcp-call-result.ts';

describe('toolOutputOf', () => {
  describe('when the result has content parts only', () => {
    it('joins text parts as they are and other parts as JSON, a line each, in order', () => {
      const output = toolOutputOf(
        {
          content: [
            { type: 'text', text: 'first' },
            { type: 'image', data: 'iVBOR', mimeType: 'image/png' },
            { type: 'resource_link', uri: 'file:///a.txt', name: 'a.txt' },
            { type: 'text', text: 'last' },
          ],
        },
        'tool',
      );
      expect(output.split('\n')).toEqual([
        'first',
        JSON.stringify({ type: 'image', data: 'iVBOR', mimeType: 'image/png' }),
        JSON.stringify({ type: 'resource_link', uri: 'file:///a.txt', name: 'a.txt' }),
        'last',
      ]);
    });

    it('is empty for no content', () => {
      expect(toolOutputOf({ content: [] }, 'tool')).toBe('');
    });
  });

  describe('when the result has structuredContent', () => {
    it('is its JSON, not the text that repeats it for older clients', () => {
      expect(toolOutputOf({ content: [{ type: 'text', text: '{"t": 36}' }], structuredContent: { t: 36 } }, 'tool')).toBe('{"t":36}');
    });
  });

  describe('when the result says isError', () => {
    it('throws a ToolError mcp_tool_error with the tool’s text', () => {
      const failure = (() => {
        try {
          toolOutputOf({ content: [{ type: 'text', text: 'ENOENT: no such file' }], isError: true, structuredContent: { x: 1 } }, 'read');
        } catch (error) {
          return error;
        }
      })();
      expect(ToolError.isInstance(failure)).toBe(true);
      expect(failure).toMatchObject({ code: 'mcp_tool_error', message: 'ENOENT: no such file', retryable: false });
    });

    it('says which tool failed when it said nothing', () => {
      expect(() => toolOutputOf({ content: [], isError: true }, 'read')).toThrow('the MCP tool read failed and said nothing more');
    });
  });
});
