import { ToolSchema } from '@modelcontextprotocol/sdk/types.js';
import type { PublishedTool } from '@volley/shared';
import { describe, expect, it } from 'vitest';
import { toMcpTool } from './mcp-tool.ts';

const entry = (tool: Partial<PublishedTool['function']>, volley: Partial<PublishedTool['volley']> = {}) => ({
  tool: {
    type: 'function' as const,
    function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, ...tool },
    volley: { sideEffects: false, locks: false, retries: 0, ...volley },
  },
  pool: 'default',
  queue: 'tools-default',
  workers: 1,
});

describe('toMcpTool', () => {
  describe('when the tool has no side effects', () => {
    it('is read-only, with its schema as the input schema', () => {
      const tool = toMcpTool(entry({ description: 'Weather.' }));
      expect(tool).toEqual({
        name: 'get_weather',
        description: 'Weather.',
        inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
        annotations: { readOnlyHint: true },
      });
      expect(ToolSchema.safeParse(tool).success).toBe(true);
    });
  });

  describe('when the tool declares side effects', () => {
    it('is neither read-only nor known to be harmless', () => {
      expect(toMcpTool(entry({}, { sideEffects: true, locks: true })).annotations).toEqual({ readOnlyHint: false, destructiveHint: true });
    });
  });

  describe('when the schema leaves out its type', () => {
    it('says object, as MCP requires', () => {
      const tool = toMcpTool(entry({ parameters: { properties: { id: { type: 'integer' } }, required: ['id'] } }));
      expect(tool.inputSchema).toEqual({ type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] });
      expect(ToolSchema.safeParse(tool).success).toBe(true);
    });
  });

  describe('when calls need approval', () => {
    it('says so in _meta, and has no description when the tool has none', () => {
      const tool = toMcpTool(entry({}, { needsApproval: 'dynamic' }));
      expect(tool._meta).toEqual({ 'volley/needs_approval': 'dynamic' });
      expect('description' in tool).toBe(false);
    });
  });
});
