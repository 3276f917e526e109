import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '@volley/shared/testing';
import { startCluster, TEST_TOOLS, type Cluster, type ClusterOptions } from './cluster.ts';
import { callsFromQuestion } from './scripted-calls.ts';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/** The reference servers, run from node_modules by the Node that runs the tests (no npx, no network). */
export const EVERYTHING_MAIN = join(packageDir('@modelcontextprotocol/server-everything'), 'dist/index.js');
export const FILESYSTEM_MAIN = join(packageDir('@modelcontextprotocol/server-filesystem'), 'dist/index.js');
export const STDIO_TAP = new URL('../fixtures/mcp-stdio-tap.ts', import.meta.url).pathname;

/** A stdio server entry of VOLLEY_MCP_SERVERS running `script` with this Node. */
export const stdioServer = (name: string, script: string, args: string[] = [], extra: Record<string, unknown> = {}) => ({
  name,
  command: process.execPath,
  args: [script, ...args],
  ...extra,
});

/** The same server behind the recording tap: every message both ways lands in `record` (JSON lines). */
export const tappedServer = (name: string, record: string, script: string, args: string[] = [], extra: Record<string, unknown> = {}) => ({
  name,
  command: process.execPath,
  args: [STDIO_TAP, record, process.execPath, script, ...args],
  ...extra,
});

export interface TapEntry {
  /** The tap's process: one per server process (each worker runs its own). */
  pid: number;
  dir: 'in' | 'out';
  at: number;
  message: any;
}

/** What went through a tap so far. */
export function readTap(record: string): TapEntry[] {
  if (!existsSync(record)) return [];
  return readFileSync(record, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TapEntry);
}

export interface HttpEverything {
  url: string;
  port: number;
  child: ChildProcess;
  /** Its stdout lines (it logs each request it receives, e.g. "Received MCP POST request"), with when they came. */
  lines: Array<{ at: number; line: string }>;
  stop(): Promise<void>;
}

/** server-everything in its Streamable HTTP mode, as a child process on a free port (or `port`, to start it again). */
export async function startHttpEverything(port?: number): Promise<HttpEverything> {
  port ??= await freePort();
  const child = spawn(process.execPath, [EVERYTHING_MAIN, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: HttpEverything['lines'] = [];
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) => lines.push({ at: Date.now(), line }));
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything did not listen on ${port} within 15 s: ${stderr}`)), 15_000);
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes(`listening on port ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited (${code}) before it listened: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    child,
    lines,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A cluster whose workers mount `servers` (as `VOLLEY_MCP_SERVERS`) beside the test tools, with a
 * scripted model that calls what each question names; `options` add to that.
 */
export function startMcpCluster(servers: readonly object[], options: ClusterOptions = {}): Promise<Cluster> {
  return startCluster({
    workers: 1,
    respond: callsFromQuestion,
    toolModules: [TEST_TOOLS],
    ...options,
    workerEnv: { VOLLEY_MCP_SERVERS: JSON.stringify(servers), ...options.workerEnv },
  });
}
