import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { compileResourceTemplate } from './resource-template.ts';

/** Server names become the first part of tool names (`<server>__<tool>`), so they keep to the tool-name alphabet. */
export const MCP_SERVER_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,32}$/;

const template = z
  .string()
  .min(1)
  .max(512)
  .superRefine((value, ctx) => {
    try {
      compileResourceTemplate(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

/** A resource a call of the tool claims, its key a template over the call's arguments (`"file:{path}"`). */
const resourceRuleSchema = z.union([
  template,
  z.strictObject({ key: template, mode: z.enum(['read', 'write']).default('write'), shared: z.boolean().optional() }),
]);

/**
 * How calls of one tool lock. Either field overrides what the tool's annotations say: an operator
 * who knows a tool better than its hints does (or a server that sends none) has the last word.
 */
const lockRuleSchema = z.strictObject({
  sideEffects: z.boolean().optional(),
  resources: z.array(resourceRuleSchema).min(1).max(64).optional(),
});
export type McpLockRule = z.infer<typeof lockRuleSchema>;

const common = {
  name: z.string().regex(MCP_SERVER_NAME_PATTERN, 'letters, digits, "_" and "-", at most 32'),
  /** The time limit of each call to this server's tools; VOLLEY_TOOL_TIMEOUT_MS when unset. */
  timeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
  /** Calls in flight to this server from one worker process at most; unbounded (but for the worker's slots) when unset. */
  concurrency: z.number().int().positive().max(10_000).optional(),
  /** How often a call that failed retryably (`mcp_server_unavailable`) is run again; 0 by default, since tools have effects. */
  retries: z.number().int().min(0).max(20).default(0),
  /** How long the server has to start and answer `initialize` and `tools/list`. */
  startTimeoutMs: z.number().int().positive().max(600_000).default(30_000),
  /** The MCP tool names to mount; every tool the server lists when unset. */
  tools: z.array(z.string().min(1)).min(1).optional(),
  /** Lock rules by MCP tool name. */
  locks: z.record(z.string().min(1), lockRuleSchema).default({}),
};

const stdioServerSchema = z.strictObject({
  ...common,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Added to the few variables the SDK passes on by default (PATH, HOME, …): the worker's own environment is not inherited. */
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().min(1).optional(),
});

const httpServerSchema = z.strictObject({
  ...common,
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  headers: z.record(z.string(), z.string()).default({}),
});

export type StdioServerConfig = z.infer<typeof stdioServerSchema>;
export type HttpServerConfig = z.infer<typeof httpServerSchema>;
export type McpServerConfig = StdioServerConfig | HttpServerConfig;

export function isStdioServer(config: McpServerConfig): config is StdioServerConfig {
  return 'command' in config;
}

// The kind is told by `url` (Streamable HTTP) or its absence (stdio), so each entry is checked
// against one shape only and its issues name that shape's fields, not a union's.
const serverSchema = z.unknown().transform((value, ctx): McpServerConfig => {
  const schema = typeof value === 'object' && value !== null && 'url' in value ? httpServerSchema : stdioServerSchema;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

export const mcpServersSchema = z
  .array(serverSchema)
  .max(64)
  .superRefine((servers, ctx) => {
    const seen = new Set<string>();
    servers.forEach((server, index) => {
      if (seen.has(server.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `server name "${server.name}" is used twice` });
      seen.add(server.name);
      if (!server.tools) return;
      const allowed = new Set(server.tools);
      for (const tool of Object.keys(server.locks)) {
        if (!allowed.has(tool))
          ctx.addIssue({ code: 'custom', path: [index, 'locks', tool], message: `a lock rule for "${tool}", which "tools" does not mount` });
      }
    });
  });

/**
 * `VOLLEY_MCP_SERVERS`: inline JSON (its text starts with `[`) or the path of a JSON file
 * (relative to the working directory), holding a list of servers.
 */
export const mcpServersEnv = () =>
  z
    .string()
    .transform((value, ctx): McpServerConfig[] => {
      const inline = value.trimStart().startsWith('[');
      let text = value;
      if (!inline) {
        try {
          text = readFileSync(resolve(value), 'utf8');
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `cannot read the file ${JSON.stringify(value)}: ${(error as Error).message}` });
          return z.NEVER;
        }
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `${inline ? 'the value' : `the file ${JSON.stringify(value)}`} is not JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
      const parsed = mcpServersSchema.safeParse(json);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
      return z.NEVER;
    })
    .default([]);
