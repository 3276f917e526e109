import type { Logger } from '@volley/shared';
import type { ToolSource } from '../tool-set.ts';
import type { McpServerConfig } from './mcp-config.ts';
import { McpServerConnection, McpServerStartError, type McpTool, type RestartBackoff } from './mcp-server-connection.ts';
import { mcpToolsOf } from './mcp-tools.ts';

export interface McpServersDeps {
  logger: Logger;
  /** Told when some server's tools changed after boot (the worker republishes its tools). */
  onChange: () => void;
  backoff?: Partial<RestartBackoff>;
}

/** The MCP servers a worker mounts, and the tools they give it now. */
export class McpServers {
  private readonly connections: McpServerConnection[] = [];
  private readonly tools = new Map<string, ToolSource[]>();

  private constructor() {}

  /**
   * Starts every server at once and lists its tools. Any server that does not start, or whose
   * configuration does not fit its listing, is a start-up error naming it (all of them, in one
   * message); the servers that did start are stopped again.
   */
  static async start(configs: readonly McpServerConfig[], deps: McpServersDeps): Promise<McpServers> {
    const servers = new McpServers();
    for (const config of configs) {
      const connection: McpServerConnection = new McpServerConnection({
        config,
        logger: deps.logger,
        ...(deps.backoff ? { backoff: deps.backoff } : {}),
        onToolsChanged: (listed) => {
          servers.mount(config, connection, listed, deps.logger);
          deps.onChange();
        },
      });
      servers.connections.push(connection);
    }
    const connections = servers.connections;
    const started = await Promise.allSettled(connections.map((connection) => connection.start()));
    const problems: string[] = [];
    started.forEach((outcome, index) => {
      const config = configs[index]!;
      if (outcome.status === 'rejected') {
        problems.push(outcome.reason instanceof McpServerStartError ? outcome.reason.message : `MCP server "${config.name}": ${String(outcome.reason)}`);
        return;
      }
      problems.push(...servers.mount(config, connections[index]!, outcome.value, deps.logger, true));
    });
    if (problems.length > 0) {
      await servers.close();
      throw new McpServerStartError(problems.join('\n'));
    }
    return servers;
  }

  /** Every mounted tool, server by server in configuration order. */
  sources(): ToolSource[] {
    return this.connections.flatMap((connection) => this.tools.get(connection.name) ?? []);
  }

  /** The process of each stdio server (null while it is down, or for Streamable HTTP). */
  pids(): Record<string, number | null> {
    return Object.fromEntries(this.connections.map((connection) => [connection.name, connection.pid]));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.connections.map((connection) => connection.close()));
  }

  /** Takes a server's (new) listing; returns its problems at boot, logs them later. */
  private mount(config: McpServerConfig, connection: McpServerConnection, listed: McpTool[], logger: Logger, atBoot = false): string[] {
    const { sources, problems, skipped } = mcpToolsOf(config, listed, connection);
    this.tools.set(config.name, sources);
    if (atBoot) {
      for (const { tool, why } of skipped) logger.info({ mcpServer: config.name, tool, why }, 'mcp tool not mounted');
      return problems;
    }
    for (const problem of problems) logger.warn({ mcpServer: config.name }, problem);
    return [];
  }
}
