import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ErrorCode, McpError, type CallToolResult, type Progress, type Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { ToolError, type Logger } from '@volley/shared';
import { CallSlots } from './call-slots.ts';
import { isStdioServer, type McpServerConfig } from './mcp-config.ts';
import { openTransport, type OpenedTransport } from './mcp-transport.ts';
import { ProgressRoutingTransport } from './progress-routing-transport.ts';

export type { McpTool };

/** The server could not be started (or reached) and initialized, or would not list its tools. */
export class McpServerStartError extends Error {
  override name = 'McpServerStartError';
}

export interface RestartBackoff {
  /** @defaultValue 250 */
  initialMs: number;
  /** @defaultValue 30000 */
  maxMs: number;
  /** A session that lived this long before it was lost restarts from `initialMs` again. @defaultValue 30000 */
  resetAfterMs: number;
}

const DEFAULT_BACKOFF: RestartBackoff = { initialMs: 250, maxMs: 30_000, resetAfterMs: 30_000 };

/** Volley's deadline (the call's signal) is the one that counts; the SDK's own 60 s default must not come first. */
const NO_SDK_TIMEOUT = 2_147_483_647;
const PROBE_TIMEOUT_MS = 5_000;

export interface McpCallOptions {
  signal: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** Sent in the request's `_meta` (trace context), beside Volley's progress token. */
  meta?: Record<string, string>;
}

interface Session {
  client: Client;
  opened: OpenedTransport;
  routing: ProgressRoutingTransport;
  openedAt: number;
}

export interface McpServerConnectionDeps {
  config: McpServerConfig;
  logger: Logger;
  /** Told of the server's tools whenever they may have changed: `notifications/tools/list_changed`, a restart. */
  onToolsChanged: (tools: McpTool[]) => void;
  backoff?: Partial<RestartBackoff>;
}

/**
 * One MCP server as the worker holds it: a client session, started at boot, and started again
 * — with backoff — when its process dies (stdio) or its session is lost (Streamable HTTP). Calls
 * in flight when that happens, and calls made while it is down, fail `mcp_server_unavailable`
 * (retryable); the worker itself goes on.
 */
export class McpServerConnection {
  readonly name: string;
  private readonly config: McpServerConfig;
  private readonly logger: Logger;
  private readonly onToolsChanged: (tools: McpTool[]) => void;
  private readonly backoff: RestartBackoff;
  private readonly slots: CallSlots;
  private session: Session | undefined;
  private closed = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly probing = new WeakSet<Session>();

  constructor(deps: McpServerConnectionDeps) {
    this.config = deps.config;
    this.name = deps.config.name;
    this.logger = deps.logger;
    this.onToolsChanged = deps.onToolsChanged;
    this.backoff = { ...DEFAULT_BACKOFF, ...deps.backoff };
    this.slots = new CallSlots(deps.config.concurrency);
  }

  /** The server process of the current session (stdio), if one runs. */
  get pid(): number | null {
    return this.session?.opened.pid() ?? null;
  }

  /** Starts the server and lists its tools; rejects with McpServerStartError naming the server. */
  async start(): Promise<McpTool[]> {
    try {
      const { tools } = await this.open();
      return tools;
    } catch (error) {
      throw new McpServerStartError(`MCP server "${this.name}" did not start: ${(error as Error).message}`, { cause: error });
    }
  }

  async call(tool: string, args: Record<string, unknown>, options: McpCallOptions): Promise<CallToolResult> {
    const release = await this.slots.acquire(options.signal);
    try {
      const session = this.session;
      if (!session) throw this.unavailable('is not running (it is being restarted)');
      const progress = options.onProgress ? session.routing.track(options.onProgress) : undefined;
      const meta = { ...options.meta, ...(progress ? { progressToken: progress.token } : {}) };
      try {
        const result = await session.client.callTool(
          { name: tool, arguments: args, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) },
          CallToolResultSchema,
          { signal: options.signal, timeout: NO_SDK_TIMEOUT },
        );
        // Parsed with CallToolResultSchema just above; the declared type also covers the 2024-10-07 `toolResult` shape.
        return result as CallToolResult;
      } catch (error) {
        // Cancelled or timed out: the SDK has sent notifications/cancelled, and the call has its answer already.
        if (options.signal.aborted) throw options.signal.reason;
        throw this.callFailure(session, error);
      } finally {
        progress?.stop();
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    // Lets an HTTP server free the session now rather than when it times it out.
    if (session.opened.transport instanceof StreamableHTTPClientTransport) await session.opened.transport.terminateSession().catch(() => undefined);
    await session.client.close().catch(() => undefined);
  }

  private async open(): Promise<{ session: Session; tools: McpTool[] }> {
    const opened = openTransport(this.config, this.logger);
    const client = new Client(
      { name: 'volley-tool-worker', version: '0.1.0' },
      {
        // No roots, sampling or elicitation: a tool call runs unattended on a cluster, with nobody to ask.
        capabilities: {},
        // The SDK's own refresh reads the first page only; the listing here follows every cursor.
        listChanged: { tools: { autoRefresh: false, debounceMs: 100, onChanged: () => void this.refreshTools(session) } },
      },
    );
    const routing = new ProgressRoutingTransport(opened.transport);
    const session: Session = { client, opened, routing, openedAt: Date.now() };
    client.onerror = (error) => {
      this.logger.warn({ mcpServer: this.name, err: error }, 'mcp server connection error');
      if (!isStdioServer(this.config)) void this.probe(session);
    };
    client.onclose = () => this.lost(session, 'its connection closed');
    const timeout = this.config.startTimeoutMs;
    try {
      await client.connect(routing, { timeout });
      const tools = await listAllTools(client, timeout);
      if (this.closed) throw new Error('the worker is stopping');
      this.session = session;
      this.logger.info(
        { mcpServer: this.name, pid: opened.pid(), protocolVersion: opened.protocolVersion(), serverInfo: client.getServerVersion(), tools: tools.length },
        'mcp server ready',
      );
      return { session, tools };
    } catch (error) {
      await client.close().catch(() => undefined);
      const stderr = opened.stderrTail();
      throw new Error(`${(error as Error).message}${stderr ? `\n  its stderr:\n    ${stderr.split('\n').join('\n    ')}` : ''}`, { cause: error });
    }
  }

  private async refreshTools(session: Session): Promise<void> {
    if (this.session !== session) return;
    try {
      this.onToolsChanged(await listAllTools(session.client, this.config.startTimeoutMs));
    } catch (error) {
      this.logger.warn({ mcpServer: this.name, err: error }, 'mcp server tools not listed again after tools/list_changed');
    }
  }

  /**
   * After an error on an HTTP session (a response stream cut, its resumption failed): is the
   * server still there and does it still know the session? A call whose stream was cut would
   * otherwise wait for an answer that never comes; losing the session fails it at once. (A
   * stdio server's death closes its pipe, which says so by itself.)
   */
  private async probe(session: Session): Promise<void> {
    if (this.probing.has(session) || this.session !== session) return;
    this.probing.add(session);
    try {
      await session.client.ping({ timeout: PROBE_TIMEOUT_MS });
    } catch (error) {
      if (isConnectionLoss(error) || (error instanceof McpError && error.code === ErrorCode.RequestTimeout))
        this.lost(session, `a ping after a connection error failed: ${(error as Error).message}`);
    } finally {
      this.probing.delete(session);
    }
  }

  /** The session is gone (process died, connection closed, HTTP session unknown): start another, with backoff. */
  private lost(session: Session, why: string): void {
    if (this.closed || this.session !== session) return;
    this.session = undefined;
    const lostAt = Date.now();
    if (lostAt - session.openedAt >= this.backoff.resetAfterMs) this.restarts = 0;
    this.logger.warn({ mcpServer: this.name, pid: session.opened.pid(), why, upMs: lostAt - session.openedAt }, 'mcp server lost');
    void session.client.close().catch(() => undefined);
    this.scheduleRestart(lostAt);
  }

  private scheduleRestart(lostAt: number): void {
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.restarts);
    this.restarts += 1;
    this.restartTimer = setTimeout(async () => {
      if (this.closed) return;
      try {
        const { session, tools } = await this.open();
        this.logger.info({ mcpServer: this.name, pid: session.opened.pid(), afterMs: Date.now() - lostAt, attempt: this.restarts }, 'mcp server restarted');
        this.onToolsChanged(tools);
      } catch (error) {
        if (this.closed) return;
        this.logger.warn({ mcpServer: this.name, err: error, attempt: this.restarts }, 'mcp server restart failed');
        this.scheduleRestart(lostAt);
      }
    }, delay);
  }

  private unavailable(what: string): ToolError {
    return new ToolError(`the MCP server "${this.name}" ${what}; calling again may work once it is back`, { code: 'mcp_server_unavailable', retryable: true });
  }

  /** What a failed `tools/call` tells the model; a lost connection also starts the way back. */
  private callFailure(session: Session, error: unknown): ToolError {
    // A stdio server's death closes its pipe, which ends the session (`lost`) before the call hears of it.
    if (this.session !== session || isConnectionLoss(error)) {
      // An HTTP server's shows up only as failing requests.
      this.lost(session, (error as Error).message);
      return this.unavailable('went away during the call, which may or may not have taken effect');
    }
    const message = error instanceof McpError ? error.message : `its answer did not fit the protocol: ${(error as Error).message}`;
    return new ToolError(`the MCP server "${this.name}" refused the call: ${message}`, { code: 'mcp_protocol_error' });
  }
}

/** The SDK's own "connection closed", no HTTP answer at all (fetch failed), or an HTTP session the server no longer knows (404) or answers for (5xx). */
function isConnectionLoss(error: unknown): boolean {
  if (error instanceof McpError) return error.code === ErrorCode.ConnectionClosed;
  if (error instanceof StreamableHTTPError) return error.code === 404 || (error.code ?? 0) >= 500;
  return error instanceof TypeError;
}

async function listAllTools(client: Client, timeout: number): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  // A bound on pages, should a server hand out cursors forever.
  for (let page = 0; page < 1_000; page += 1) {
    const listed = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout });
    tools.push(...listed.tools);
    cursor = listed.nextCursor;
    if (cursor === undefined) return tools;
  }
  throw new Error('tools/list kept answering with a next page (1,000 pages)');
}
