import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from '@volley/shared';
import { describe, expect, it } from 'vitest';
import type { McpServerConfig } from './mcp-config.ts';
import type { McpCallOptions } from './mcp-server-connection.ts';
import { mcpToolsOf, type McpToolCaller } from './mcp-tools.ts';

const schema = (properties: Record<string, object> = { path: { type: 'string' } }) => ({
  type: 'object' as const,
  properties,
  $schema: 'http://json-schema.org/draft-07/schema#',
});
const listing: McpTool[] = [
  { name: 'read', description: 'Reads.', inputSchema: schema(), annotations: { readOnlyHint: true } },
  { name: 'write', inputSchema: schema(), title: 'Write a file', annotations: { readOnlyHint: false, destructiveHint: true } },
  { name: 'append', inputSchema: schema(), annotations: { readOnlyHint: false, destructiveHint: false } },
  { name: 'bare', inputSchema: schema() },
  { name: 'research', inputSchema: schema(), execution: { taskSupport: 'required' } },
];
const config = (extra: Partial<McpServerConfig> = {}): McpServerConfig =>
  ({ name: 'fs', command: 'x', args: [], env: {}, retries: 0, startTimeoutMs: 1_000, locks: {}, ...extra }) as McpServerConfig;
const nobody: McpToolCaller = { call: () => Promise.reject(new Error('not called')) };
const byName = (sources: ReturnType<typeof mcpToolsOf>['sources']) => new Map(sources.map(({ tool }) => [(tool as { name: string }).name, tool as any]));

describe('mcpToolsOf', () => {
  describe('when the tools carry annotations and no rules', () => {
    const { sources, skipped, problems } = mcpToolsOf(config({ timeoutMs: 5_000, retries: 2 }), listing, nobody);
    const tools = byName(sources);

    it('names each <server>__<tool>, with its description (or title) and its inputSchema without the dialect', () => {
      expect([...tools.keys()]).toEqual(['fs__read', 'fs__write', 'fs__append', 'fs__bare']);
      expect(tools.get('fs__read')).toMatchObject({
        description: 'Reads.',
        parameters: { type: 'object', properties: { path: { type: 'string' } } },
        timeoutMs: 5_000,
        retries: 2,
      });
      expect(tools.get('fs__read').parameters).not.toHaveProperty('$schema');
      expect(tools.get('fs__write').description).toBe('Write a file');
      expect(sources[0]!.source).toBe('MCP server "fs" tool "read"');
    });

    it('takes no locks for readOnlyHint, and counts every other tool as side-effecting (a whole-tool lock)', () => {
      expect(tools.get('fs__read')).toMatchObject({ sideEffects: false });
      for (const name of ['fs__write', 'fs__append', 'fs__bare']) {
        expect(tools.get(name), name).toMatchObject({ sideEffects: true });
        expect(tools.get(name).resources).toBeUndefined();
      }
    });

    it('leaves out a tool that runs only as an MCP task, saying why', () => {
      expect(skipped).toEqual([{ tool: 'research', why: expect.stringContaining('taskSupport: required') }]);
      expect(problems).toEqual([]);
    });
  });

  describe('when rules say more than the annotations', () => {
    const { sources, problems } = mcpToolsOf(
      config({
        tools: ['read', 'write', 'append'],
        locks: {
          read: { resources: [{ key: 'file:{path}', mode: 'read' }] },
          write: { resources: ['file:{path}', { key: 'disk', mode: 'write', shared: true }] },
          append: { sideEffects: false },
        },
      }),
      listing,
      nobody,
    );
    const tools = byName(sources);

    it('mounts only the allowed tools', () => {
      expect([...tools.keys()]).toEqual(['fs__read', 'fs__write', 'fs__append']);
      expect(problems).toEqual([]);
    });

    it('claims the rendered resources, finer than the whole tool', () => {
      expect(tools.get('fs__read').resources({ path: '/a' })).toEqual([{ key: 'file:/a', mode: 'read' }]);
      expect(tools.get('fs__write').resources({ path: '/a' })).toEqual([
        { key: 'file:/a', mode: 'write' },
        { key: 'disk', mode: 'write', shared: true },
      ]);
    });

    it('lets a rule take side effects away', () => {
      expect(tools.get('fs__append')).toMatchObject({ sideEffects: false });
    });
  });

  describe('when the configuration does not fit the listing', () => {
    it('says so for every mismatch, and leaves out a tool whose rule reads an argument it lacks', () => {
      const { sources, problems } = mcpToolsOf(
        config({ tools: ['read', 'wrte'], locks: { read: { resources: ['file:{file}'] }, gone: { sideEffects: true } } }),
        listing,
        nobody,
      );
      expect(problems).toEqual([
        'MCP server "fs": "tools" names "wrte", which the server does not list',
        'MCP server "fs": "locks" has a rule for "gone", which the server does not list',
        'MCP server "fs": the lock rule of "read" reads {file}, which its input schema does not have',
      ]);
      expect(sources).toEqual([]);
    });
  });

  describe('when a tool is called', () => {
    it('calls the MCP tool by its own name with the arguments, passes the signal, and reports progress', async () => {
      const seen: Array<{ tool: string; args: unknown; options: McpCallOptions }> = [];
      const caller: McpToolCaller = {
        async call(tool, args, options) {
          seen.push({ tool, args, options });
          options.onProgress?.({ progress: 1, total: 2, message: 'half' });
          options.onProgress?.({ progress: 2 });
          return { content: [{ type: 'text', text: 'done' }] };
        },
      };
      const tool = mcpToolsOf(config(), listing.slice(0, 1), caller).sources[0]!.tool as any;
      const progress: unknown[] = [];
      const signal = new AbortController().signal;
      const ctx = { signal, progress: (value: unknown) => progress.push(value) } as unknown as ToolContext;
      expect(await tool.execute({ path: '/a' }, ctx)).toBe('done');
      expect(seen).toEqual([{ tool: 'read', args: { path: '/a' }, options: expect.objectContaining({ signal }) }]);
      // Tracing is off in unit tests: no _meta is sent.
      expect(seen[0]!.options.meta).toBeUndefined();
      expect(progress).toEqual([{ progress: 1, total: 2, message: 'half' }, { progress: 2 }]);
    });
  });
});
