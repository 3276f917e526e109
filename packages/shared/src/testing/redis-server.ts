import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { homedir, tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.ts';
import type { TestCertificate } from './test-certificate.ts';

export type RedisBackend = 'docker' | 'redis-server';

export type StartRedisOptions = {
  appendOnly?: boolean;
  /** Require this password (`--requirepass`); `url` then carries it. */
  password?: string;
  /**
   * Also listen with TLS on a second port, with this certificate (see `makeTestCertificate`);
   * `tlsUrl` is then a `rediss://` URL. Plain `url` keeps working, for readiness checks.
   */
  tls?: TestCertificate;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /**
   * Forces a backend. Defaults to env `VOLLEY_TEST_REDIS`, else Docker when an engine answers,
   * else a local `redis-server`. Tests that need `restart()` pass `'redis-server'`.
   */
  backend?: RedisBackend;
};

export type TestRedis = {
  url: string;
  /** With `tls`: the `rediss://` URL of the TLS port (with the password, if any). */
  tlsUrl?: string;
  port: number;
  host: string;
  backend: RedisBackend;
  stop(): Promise<void>;
  /** Local `redis-server` only: same port and data dir, so clients reconnect and AOF data survives. */
  restart?(): Promise<void>;
  /**
   * Local `redis-server` only: SIGSTOP, a Redis that keeps its connections open and answers
   * nothing (a frozen host, a long fork), until `thaw()` (SIGCONT).
   */
  freeze?(): void;
  thaw?(): void;
};

const LOOPBACK = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const DOCKER_CHECK_TIMEOUT_MS = 2_000;
const OUTPUT_TAIL_CHARS = 8_000;

const INSTALL_HINT =
  'Integration tests need a real Redis. Install redis-server (Debian/Ubuntu: `sudo apt-get install redis-server`, ' +
  'Fedora: `sudo dnf install redis`, macOS: `brew install redis`) or set REDIS_SERVER_BIN=/path/to/redis-server, ' +
  'or start a Docker engine so testcontainers can run redis:7-alpine.';

export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const backend = options.backend ?? backendFromEnv() ?? ((await dockerAvailable()) ? 'docker' : 'redis-server');
  return backend === 'docker' ? startDockerRedis(options) : startLocalRedis(options);
}

function backendFromEnv(): RedisBackend | undefined {
  const value = process.env.VOLLEY_TEST_REDIS;
  if (value === undefined || value === '') return undefined;
  if (value === 'docker' || value === 'redis-server') return value;
  throw new Error(`VOLLEY_TEST_REDIS must be 'docker' or 'redis-server', got '${value}'`);
}

// --- Docker (testcontainers) -------------------------------------------------------------------

let dockerAnswer: Promise<boolean> | undefined;

/** Cached per process: every test file asks, and the answer does not change mid-run. */
function dockerAvailable(): Promise<boolean> {
  dockerAnswer ??= probeDocker();
  return dockerAnswer;
}

/**
 * Importing testcontainers costs ~0.6 s and its runtime probe can hang on a dead DOCKER_HOST, so
 * skip it entirely when no Docker endpoint could exist (mirrors testcontainers' own strategies),
 * and otherwise give the probe a hard deadline.
 */
async function probeDocker(): Promise<boolean> {
  if (!dockerEndpointMightExist()) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(resolve, DOCKER_CHECK_TIMEOUT_MS, false);
    });
    const probe = getContainerRuntimeClient().then(
      () => true,
      () => false,
    );
    return await Promise.race([probe, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function dockerEndpointMightExist(): boolean {
  // Named pipes cannot be checked with existsSync; let testcontainers decide on Windows.
  if (process.platform === 'win32') return true;
  if (process.env.DOCKER_HOST || process.env.TESTCONTAINERS_HOST_OVERRIDE) return true;
  const candidates = [
    join(homedir(), '.testcontainers.properties'),
    '/var/run/docker.sock',
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.docker', 'desktop', 'docker.sock'),
    join('/run', 'user', String(userInfo().uid), 'docker.sock'),
  ];
  if (process.env.XDG_RUNTIME_DIR) candidates.push(join(process.env.XDG_RUNTIME_DIR, 'docker.sock'));
  return candidates.some((path) => existsSync(path));
}

async function startDockerRedis(options: StartRedisOptions): Promise<TestRedis> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { tls } = options;
  let builder = new GenericContainer('redis:7-alpine')
    .withExposedPorts(...(tls ? [6379, DOCKER_TLS_PORT] : [6379]))
    .withCommand([
      'redis-server',
      ...persistenceArgs(options),
      ...securityArgs(options, tls ? { port: DOCKER_TLS_PORT, dir: DOCKER_TLS_DIR } : undefined),
      ...(options.args ?? []),
    ])
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'));
  if (tls) {
    builder = builder.withCopyContentToContainer(
      (['cert', 'key', 'ca'] as const).map((part) => ({ content: tls[part], target: `${DOCKER_TLS_DIR}/${part}.pem`, mode: 0o644 })),
    );
  }
  const container = await builder.start();
  const host = container.getHost();
  const port = container.getMappedPort(6379);
  let stopping: Promise<void> | undefined;
  return {
    backend: 'docker',
    host,
    port,
    url: redisUrl(host, port, options.password),
    ...(tls ? { tlsUrl: redisUrl(host, container.getMappedPort(DOCKER_TLS_PORT), options.password, 'rediss') } : {}),
    stop() {
      stopping ??= container.stop().then(() => undefined);
      return stopping;
    },
  };
}

// --- Local redis-server ------------------------------------------------------------------------

type LocalServer = { dir: string; child: ChildProcess | undefined };

/** Killed synchronously on process exit: a forgotten stop() must not leave redis-server behind. */
const liveServers = new Set<LocalServer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const server of liveServers) {
      server.child?.kill('SIGKILL');
      rmSync(server.dir, { recursive: true, force: true });
    }
  });
}

function findRedisServer(): string | undefined {
  const override = process.env.REDIS_SERVER_BIN;
  if (override) return override;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

async function startLocalRedis(options: StartRedisOptions): Promise<TestRedis> {
  const bin = findRedisServer();
  if (bin === undefined) {
    throw new Error(`startRedis: no Docker engine answered and \`redis-server\` is not on PATH. ${INSTALL_HINT}`);
  }
  installExitHook();
  const server: LocalServer = { dir: await mkdtemp(join(tmpdir(), 'volley-redis-')), child: undefined };
  liveServers.add(server);

  let tlsPort: number | undefined;
  const launchOn = async (port: number): Promise<void> => {
    server.child = await launchRedis(bin, port, server.dir, options, tlsPort);
  };

  let port = 0;
  try {
    if (options.tls) await writeCertificate(server.dir, options.tls);
    // freePort can race with another process; a fresh port on EADDRINUSE is cheaper than a flaky test.
    for (let attempt = 1; ; attempt++) {
      port = await freePort(LOOPBACK);
      if (options.tls) tlsPort = await freePort(LOOPBACK);
      try {
        await launchOn(port);
        break;
      } catch (error) {
        if (attempt >= 3 || !(error instanceof AddressInUseError)) throw error;
      }
    }
  } catch (error) {
    liveServers.delete(server);
    await rm(server.dir, { recursive: true, force: true });
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    backend: 'redis-server',
    host: LOOPBACK,
    port,
    url: redisUrl(LOOPBACK, port, options.password),
    ...(tlsPort === undefined ? {} : { tlsUrl: redisUrl(LOOPBACK, tlsPort, options.password, 'rediss') }),
    stop() {
      stopping ??= (async () => {
        await stopChild(server.child);
        server.child = undefined;
        liveServers.delete(server);
        await rm(server.dir, { recursive: true, force: true });
      })();
      return stopping;
    },
    async restart() {
      if (stopping) throw new Error('startRedis: restart() after stop()');
      await stopChild(server.child);
      server.child = undefined;
      await launchOn(port);
    },
    freeze() {
      server.child?.kill('SIGSTOP');
    },
    thaw() {
      server.child?.kill('SIGCONT');
    },
  };
}

function persistenceArgs(options: StartRedisOptions): string[] {
  return ['--save', '', '--appendonly', options.appendOnly ? 'yes' : 'no'];
}

const DOCKER_TLS_PORT = 6380;
const DOCKER_TLS_DIR = '/volley-tls';

/** `--requirepass` and a TLS listener (clients need not present certificates). */
function securityArgs(options: StartRedisOptions, tls: { port: number; dir: string } | undefined): string[] {
  return [
    ...(options.password === undefined ? [] : ['--requirepass', options.password]),
    ...(tls
      ? [
          '--tls-port',
          String(tls.port),
          '--tls-cert-file',
          join(tls.dir, 'cert.pem'),
          '--tls-key-file',
          join(tls.dir, 'key.pem'),
          '--tls-ca-cert-file',
          join(tls.dir, 'ca.pem'),
          '--tls-auth-clients',
          'no',
        ]
      : []),
  ];
}

async function writeCertificate(dir: string, certificate: TestCertificate): Promise<void> {
  for (const part of ['cert', 'key', 'ca'] as const) {
    await writeFile(join(dir, `${part}.pem`), certificate[part], { mode: 0o600 });
  }
}

class AddressInUseError extends Error {}

type ChildExit = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

async function launchRedis(bin: string, port: number, dir: string, options: StartRedisOptions, tlsPort: number | undefined): Promise<ChildProcess> {
  const args = [
    '--bind',
    LOOPBACK,
    '--port',
    String(port),
    ...persistenceArgs(options),
    ...securityArgs(options, tlsPort === undefined ? undefined : { port: tlsPort, dir }),
    '--dir',
    dir,
    '--daemonize',
    'no',
    ...(options.args ?? []),
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const verbose = process.env.VOLLEY_TEST_VERBOSE === '1';
  let output = '';
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_TAIL_CHARS);
    if (verbose) process.stderr.write(text.replace(/^(?=.)/gm, `[redis-server:${port}] `));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let exit: ChildExit | undefined;
  child.once('exit', (code, signal) => {
    exit ??= { code, signal };
  });
  child.once('error', (error) => {
    exit ??= { code: null, signal: null, error };
  });

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exit) {
      const why = exit.error ? `failed to start (${exit.error.message})` : `exited (code ${exit.code}, signal ${exit.signal})`;
      const message = `startRedis: ${bin} ${why} before answering PING on port ${port}.\n${output}`;
      if (exit.error && 'code' in exit.error && exit.error.code === 'ENOENT') {
        throw new Error(`${message}\n${INSTALL_HINT}`, { cause: exit.error });
      }
      throw output.includes('Address already in use') ? new AddressInUseError(message) : new Error(message);
    }
    if (await ping(LOOPBACK, port, options.password)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`startRedis: redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms.\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A frozen server would never act on SIGTERM.
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(escalate);
  }
}

/**
 * Raw RESP instead of a client library: no reconnect logic to tear down, and `-LOADING` while an
 * AOF replays correctly counts as "not ready yet".
 */
function ping(host: string, port: number, password: string | undefined, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = connect({ host, port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    // With a password, AUTH goes first in the same write; its +OK precedes PING's answer.
    const auth = password === undefined ? '' : respCommand('AUTH', password);
    const expected = password === undefined ? '+PONG' : '+OK\r\n+PONG';
    socket.once('connect', () => socket.write(`${auth}PING\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.split('\r\n').length > (password === undefined ? 1 : 2)) finish(reply.startsWith(expected));
    });
    socket.once('end', () => finish(false));
  });
}

function respCommand(...parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`;
}

function redisUrl(host: string, port: number, password?: string, scheme: 'redis' | 'rediss' = 'redis'): string {
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return `${scheme}://${auth}${host.includes(':') ? `[${host}]` : host}:${port}`;
}
