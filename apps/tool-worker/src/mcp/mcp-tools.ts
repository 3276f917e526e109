import type { CallToolResult, Progress, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { context, injectTraceContext, isTracingEnabled, type JsonSchemaTool, type ResourceClaim, type ToolContext } from '@volley/shared';
import type { ToolSource } from '../tool-set.ts';
import type { McpServerConfig } from './mcp-config.ts';
import type { McpCallOptions } from './mcp-server-connection.ts';
import { mcpToolName } from './mcp-tool-name.ts';
import { compileResourceTemplate } from './resource-template.ts';
import { toolOutputOf } from './mcp-call-result.ts';

export interface McpToolCaller {
  call(tool: string, args: Record<string, unknown>, options: McpCallOptions): Promise<CallToolResult>;
}

export interface McpToolsOf {
  sources: ToolSource[];
  /** Configuration that names what the server does not list, or cannot apply: start-up errors at boot, warnings later. */
  problems: string[];
  /** Tools listed but not mounted, and why. */
  skipped: Array<{ tool: string; why: string }>;
}

/**
 * The Volley tools of one server's listing. Locks follow the tool's annotations unless the
 * configuration says otherwise: `readOnlyHint: true` takes none; any other tool may change
 * its environment (the spec's defaults: not read-only, destructive), so it has side effects
 * and locks the whole tool, or what its `resources` rule names.
 */
export function mcpToolsOf(config: McpServerConfig, listed: readonly McpTool[], caller: McpToolCaller): McpToolsOf {
  const problems: string[] = [];
  const skipped: McpToolsOf['skipped'] = [];
  const sources: ToolSource[] = [];
  const names = new Set(listed.map((tool) => tool.name));
  const about = `MCP server "${config.name}"`;
  for (const wanted of config.tools ?? []) {
    if (!names.has(wanted)) problems.push(`${about}: "tools" names ${JSON.stringify(wanted)}, which the server does not list`);
  }
  for (const ruled of Object.keys(config.locks)) {
    if (!names.has(ruled)) problems.push(`${about}: "locks" has a rule for ${JSON.stringify(ruled)}, which the server does not list`);
  }
  const allowed = config.tools ? new Set(config.tools) : undefined;
  for (const listedTool of listed) {
    if (allowed && !allowed.has(listedTool.name)) continue;
    // Such a tool answers only through the experimental tasks API, which a queued call has no use for.
    if (listedTool.execution?.taskSupport === 'required') {
      skipped.push({ tool: listedTool.name, why: 'it runs only as an MCP task (execution.taskSupport: required)' });
      continue;
    }
    const rule = config.locks[listedTool.name];
    const { $schema: _dialect, ...parameters } = listedTool.inputSchema;
    const resources = rule?.resources ? resourcesOf(rule.resources) : undefined;
    const unknown = resources?.names.filter((name) => parameters.properties !== undefined && !Object.hasOwn(parameters.properties, name)) ?? [];
    if (unknown.length > 0) {
      problems.push(
        `${about}: the lock rule of ${JSON.stringify(listedTool.name)} reads ${unknown.map((name) => `{${name}}`).join(', ')}, which its input schema does not have`,
      );
      continue;
    }
    const tool: JsonSchemaTool = {
      name: mcpToolName(config.name, listedTool.name),
      description: listedTool.description ?? listedTool.title ?? listedTool.annotations?.title ?? '',
      parameters,
      sideEffects: rule?.sideEffects ?? listedTool.annotations?.readOnlyHint !== true,
      ...(resources ? { resources: resources.claims } : {}),
      ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
      retries: config.retries,
      execute: async (args, ctx) => toolOutputOf(await caller.call(listedTool.name, args, callOptions(ctx)), listedTool.name),
    };
    sources.push({ tool, source: `MCP server "${config.name}" tool ${JSON.stringify(listedTool.name)}` });
  }
  return { sources, problems, skipped };
}

function resourcesOf(rules: NonNullable<McpServerConfig['locks'][string]['resources']>) {
  const compiled = rules.map((rule) => {
    const { key, mode, shared } = typeof rule === 'string' ? { key: rule, mode: 'write' as const, shared: undefined } : rule;
    return { template: compileResourceTemplate(key), mode, shared };
  });
  return {
    names: [...new Set(compiled.flatMap(({ template }) => template.names))],
    claims: (args: Record<string, unknown>): ResourceClaim[] =>
      compiled.map(({ template, mode, shared }) => ({ key: template.render(args), mode, ...(shared === undefined ? {} : { shared }) })),
  };
}

function callOptions(ctx: ToolContext): McpCallOptions {
  // The call's execute_tool span is the active one here: the server's spans can join the task's trace.
  const meta = isTracingEnabled() ? injectTraceContext(context.active()) : {};
  return {
    signal: ctx.signal,
    onProgress: (progress: Progress) => ctx.progress(progressValue(progress)),
    ...(meta.traceparent === undefined ? {} : { meta }),
  };
}

function progressValue({ progress, total, message }: Progress): Record<string, unknown> {
  return { progress, ...(total === undefined ? {} : { total }), ...(message === undefined ? {} : { message }) };
}
