import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from '@volley/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mcpServersEnv } from './mcp-config.ts';

const schema = z.object({ VOLLEY_MCP_SERVERS: mcpServersEnv() });
const parse = (value: string | undefined) => parseEnv(schema, value === undefined ? {} : { VOLLEY_MCP_SERVERS: value }).VOLLEY_MCP_SERVERS;
const problems = (value: string) => {
  try {
    parse(value);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a configuration error');
};

describe('VOLLEY_MCP_SERVERS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('when unset', () => {
    it('mounts no server', () => {
      expect(parse(undefined)).toEqual([]);
    });
  });

  describe('when given inline', () => {
    it('takes stdio and Streamable HTTP servers with their defaults', () => {
      const servers = parse(
        JSON.stringify([
          {
            name: 'fs',
            command: 'npx',
            args: ['-y', '@modelcontextprotocol/server-filesystem', '/data'],
            locks: { write_file: { resources: ['file:{path}'] } },
          },
          { name: 'remote', url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer t' }, timeoutMs: 5_000, concurrency: 4, tools: ['search'] },
        ]),
      );
      expect(servers).toEqual([
        {
          name: 'fs',
          command: 'npx',
          args: ['-y', '@modelcontextprotocol/server-filesystem', '/data'],
          env: {},
          retries: 0,
          startTimeoutMs: 30_000,
          locks: { write_file: { resources: ['file:{path}'] } },
        },
        {
          name: 'remote',
          url: 'https://mcp.example.com/mcp',
          headers: { authorization: 'Bearer t' },
          timeoutMs: 5_000,
          concurrency: 4,
          tools: ['search'],
          retries: 0,
          startTimeoutMs: 30_000,
          locks: {},
        },
      ]);
    });

    it('takes a resource rule as an object with a mode (write by default)', () => {
      const [server] = parse(
        JSON.stringify([{ name: 'fs', command: 'x', locks: { read: { resources: [{ key: 'file:{path}', mode: 'read' }, { key: 'disk' }] } } }]),
      );
      expect(server!.locks.read!.resources).toEqual([
        { key: 'file:{path}', mode: 'read' },
        { key: 'disk', mode: 'write' },
      ]);
    });
  });

  describe('when given a file path', () => {
    it('reads the list from the file', () => {
      const file = join(dir, 'servers.json');
      writeFileSync(file, JSON.stringify([{ name: 'local', command: 'server' }]));
      expect(parse(file).map((server) => server.name)).toEqual(['local']);
    });

    it('names a file it cannot read', () => {
      expect(problems(join(dir, 'absent.json'))).toMatch(/VOLLEY_MCP_SERVERS: cannot read the file ".*absent\.json"/);
    });
  });

  describe('when the list is wrong', () => {
    it('reports every bad entry by its place, judging each by its own kind', () => {
      const message = problems(
        JSON.stringify([
          { name: 'bad name!', command: 'x' },
          { name: 'h', url: 'ftp://x' },
          { name: 'h', command: 'x', surprise: true },
          { name: 't', command: 'x', locks: { w: { resources: ['file:{path'] } } },
          { name: 'n', command: '' },
        ]),
      );
      expect(message).toContain('VOLLEY_MCP_SERVERS.0.name: letters, digits');
      expect(message).toContain('VOLLEY_MCP_SERVERS.1.url: must be an http:// or https:// URL');
      expect(message).toMatch(/VOLLEY_MCP_SERVERS\.2: Unrecognized key: "surprise"/);
      expect(message).toContain('VOLLEY_MCP_SERVERS.3.locks.w.resources.0: template "file:{path" has an unmatched brace');
      expect(message).toMatch(/VOLLEY_MCP_SERVERS\.4\.command: /);
      // Nothing from the command: an HTTP entry is not told it lacks one.
      expect(message).not.toMatch(/VOLLEY_MCP_SERVERS\.1\.command/);
    });

    it('then checks the entries against each other: names used twice, rules for tools not mounted', () => {
      const message = problems(
        JSON.stringify([
          { name: 'h', command: 'x' },
          { name: 'h', url: 'https://a.example/mcp' },
          { name: 'fs', command: 'x', tools: ['read'], locks: { write: { sideEffects: true } } },
        ]),
      );
      expect(message).toContain('VOLLEY_MCP_SERVERS.1.name: server name "h" is used twice');
      expect(message).toContain('VOLLEY_MCP_SERVERS.2.locks.write: a lock rule for "write", which "tools" does not mount');
    });

    it('says what is not JSON, and never shows the value (headers and env carry secrets)', () => {
      const message = problems('[{"name": "x", "url": "https://a.example", "headers": {"authorization": "Bearer secret-token"}');
      expect(message).toMatch(/VOLLEY_MCP_SERVERS: the value is not JSON/);
      expect(message).not.toContain('secret-token');
    });
  });
});
