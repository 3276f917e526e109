import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from '@volley/shared';
import { isStdioServer, type McpServerConfig } from './mcp-config.ts';

/** The stderr a server printed last, for the message of a server that would not start. */
const STDERR_TAIL_LINES = 20;

export interface OpenedTransport {
  transport: Transport;
  /** The server process (stdio), once spawned; null for Streamable HTTP. */
  pid(): number | null;
  /** The revision `initialize` settled on, once it has. */
  protocolVersion(): string | undefined;
  /** The server's last stderr lines (stdio). */
  stderrTail(): string;
}

/** A new transport to the server: a fresh process (stdio) or a fresh session (Streamable HTTP). */
export function openTransport(config: McpServerConfig, logger: Logger): OpenedTransport {
  let negotiated: string | undefined;
  const tail: string[] = [];
  let transport: Transport;
  let pid = () => null as number | null;
  if (isStdioServer(config)) {
    const stdio = new StdioClientTransport({
      command: config.command,
      args: config.args,
      env: config.env,
      ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
      // Piped, not inherited: a server's diagnostics go to the log as lines that name it.
      stderr: 'pipe',
    });
    // A PassThrough from the start (stderr: 'pipe'), so nothing the server prints before it is spawned is lost.
    createInterface({ input: stdio.stderr as Readable, crlfDelay: Infinity }).on('line', (line) => {
      tail.push(line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
      logger.info({ mcpServer: config.name, line }, 'mcp server stderr');
    });
    pid = () => stdio.pid;
    transport = stdio;
  } else {
    transport = new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers } });
  }
  // The client tells a transport that can use it (HTTP sends it as a header); stdio has no such
  // hook, so one is added to learn what was negotiated either way.
  const own = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version) => {
    negotiated = version;
    own?.(version);
  };
  return { transport, pid, protocolVersion: () => negotiated, stderrTail: () => tail.join('\n') };
}
