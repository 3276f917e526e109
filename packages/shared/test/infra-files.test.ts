import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseAppEnv, unknownVariables, type App } from './support/app-env.ts';
import { copiedFromContext, dockerfile } from './support/dockerfile.ts';

// Static checks of docker-compose.yml and infra/Dockerfile; no Docker engine is needed.

const repoRoot = new URL('../../../', import.meta.url);
const repoPath = (path: string): string => fileURLToPath(new URL(path, repoRoot));
const read = (path: string): string => readFileSync(repoPath(path), 'utf8');

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  stop_grace_period?: string;
  profiles?: string[];
}

// Compose resolves `<<: *anchor` merge keys, so the parser must too.
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const appServices = ['orchestrator', 'tool-worker', 'scripted-model'] as const;

function service(name: string): ComposeService {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** Compose accepts a command as a string or a list. */
function argv(command: string | string[]): string[] {
  return Array.isArray(command) ? command : command.trim().split(/\s+/);
}

/** Compose accepts environment as a map or as a list of KEY=value. */
function environment(svc: ComposeService): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0] ?? '', entry.split('=').slice(1).join('=')]));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value ?? '')]));
}

/** The exec-form CMD of the Dockerfile's final stage. */
function dockerfileCmd(): string[] {
  const cmds = [...dockerfile.matchAll(/^CMD\s+(\[.*\])\s*$/gm)];
  const last = cmds.at(-1);
  if (!last?.[1]) throw new Error('infra/Dockerfile has no exec-form CMD');
  return JSON.parse(last[1]) as string[];
}

/** The `.ts` entry point a command runs. */
function script(command: string[]): string {
  const entry = command.find((arg) => arg.endsWith('.ts'));
  if (!entry) throw new Error(`no .ts script in ${JSON.stringify(command)}`);
  return entry;
}

/** Top-level paths that the Dockerfile's final stage copies from the build context. */
function copiedDirectories(): string[] {
  return copiedFromContext().map((source) => source.split('/')[0] ?? '');
}

describe('docker-compose.yml', () => {
  it('defines redis, orchestrator, tool-worker and scripted-model', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['redis', ...appServices]));
  });

  it('runs redis with an append-only file, a health check and a named volume', () => {
    const redis = service('redis');
    const command = argv(redis.command ?? []);
    expect(command).toContain('--appendonly');
    expect(command[command.indexOf('--appendonly') + 1]).toBe('yes');
    expect(argv(redis.healthcheck?.test ?? []).join(' ')).toContain('redis-cli ping');
    const data = (redis.volumes ?? []).map((volume) => (typeof volume === 'string' ? { source: volume.split(':')[0], target: volume.split(':')[1] } : volume));
    const source = data.find((volume) => volume.target === '/data')?.source;
    expect(source, 'a volume mounted at /data').toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(source);
  });

  it.each(appServices)('builds %s from infra/Dockerfile as the shared volley:dev image', (name) => {
    const svc = service(name);
    expect(svc.image).toBe('volley:dev');
    expect(svc.build).toMatchObject({ context: '.', dockerfile: 'infra/Dockerfile' });
    expect(existsSync(repoPath('infra/Dockerfile'))).toBe(true);
  });

  it('points the orchestrator at Redis and a model endpoint', () => {
    const env = environment(service('orchestrator'));
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    expect(env.OPENAI_BASE_URL).toContain('http://scripted-model:8787/v1');
    expect(env.SCRIPTED_MODEL_HOST).toBeUndefined();
    expect(environment(service('scripted-model')).SCRIPTED_MODEL_HOST).toBe('0.0.0.0');
  });

  it.each(['orchestrator', 'tool-worker'])('starts %s only once redis is healthy', (name) => {
    expect(service(name).depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
  });

  it.each(appServices)('runs a script of %s that exists and is copied into the image', (name) => {
    const command = service(name).command;
    const entry = script(command === undefined ? dockerfileCmd() : argv(command));
    expect(existsSync(repoPath(entry)), `${entry} exists`).toBe(true);
    expect(copiedDirectories()).toContain(entry.split('/')[0]);
  });
});

describe('infra/Dockerfile', () => {
  it('defaults to the orchestrator, whose script exists', () => {
    const cmd = dockerfileCmd();
    expect(cmd).toEqual(['node', 'apps/orchestrator/src/main.ts']);
    expect(existsSync(repoPath(script(cmd)))).toBe(true);
  });

  it('copies the package.json of every workspace before installing', () => {
    const root = JSON.parse(read('package.json')) as { workspaces: string[] };
    for (const workspace of root.workspaces) {
      expect(dockerfile).toContain(`COPY ${workspace}/package.json ${workspace}/`);
    }
    expect(dockerfile.search(/^RUN npm ci\b/m)).toBeGreaterThan(dockerfile.lastIndexOf('/package.json '));
  });

  it('runs on node:24-slim as the non-root node user in production mode', () => {
    expect(dockerfile).toMatch(/^FROM node:24-slim\b/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
  });
});

describe('tracing in docker-compose.yml', () => {
  it('runs Jaeger with its OTLP receiver on and points both apps at it', () => {
    const jaeger = service('jaeger');
    expect(jaeger.image).toMatch(/^jaegertracing\/all-in-one/);
    expect(environment(jaeger).COLLECTOR_OTLP_ENABLED).toBe('true');
    for (const name of ['orchestrator', 'tool-worker']) {
      expect(environment(service(name)).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    }
  });
});

/** Compose's `${NAME:-default}` / `${NAME-default}` / `${NAME}` as they resolve with NAME unset. */
function interpolated(value: string): string {
  return value.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}/g, (_match, fallback: string | undefined) => fallback ?? '');
}

/** A compose duration (`15s`, `1m30s`, `500ms`) in milliseconds. */
function durationMs(text: string): number {
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) throw new Error(`not a compose duration: ${text}`);
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * (units[unit!] ?? Number.NaN), 0);
}

/** The URL a `node -e "fetch('…')…"` health check probes. */
function probedUrl(svc: ComposeService): URL {
  const test = argv(svc.healthcheck?.test ?? []);
  expect(test.slice(0, 3), 'a CMD health check run by node (the slim image has no curl)').toEqual(['CMD', 'node', '-e']);
  const url = /fetch\('([^']+)'\)/.exec(test[3] ?? '')?.[1];
  if (!url) throw new Error(`no fetch('<url>') in ${JSON.stringify(test)}`);
  expect(test[3]).toMatch(/process\.exit\(r\.ok \? 0 : 1\), \(\) => process\.exit\(1\)/);
  return new URL(url);
}

/** Tool-worker services: every service running the tool worker's main script. */
const workerServices = Object.keys(services).filter((name) => {
  const command = services[name]?.command;
  return command !== undefined && argv(command).includes('apps/tool-worker/src/main.ts');
});

const appOf = (name: string): App => (workerServices.includes(name) ? 'tool-worker' : 'orchestrator');
const resolvedEnv = (name: string) => Object.fromEntries(Object.entries(environment(service(name))).map(([key, value]) => [key, interpolated(value)]));

describe('docker-compose.yml: scaling, health checks and graceful shutdown', () => {
  it('runs tool workers of the default pool and of an optional io pool', () => {
    expect(workerServices.sort()).toEqual(['tool-worker', 'tool-worker-io']);
    expect(resolvedEnv('tool-worker').VOLLEY_POOL).toBe('default');
    expect(resolvedEnv('tool-worker-io').VOLLEY_POOL).toBe('io');
    // Only on request, so `docker compose up` stays one pool.
    expect(service('tool-worker-io').profiles).toEqual(['io-pool']);
    expect(service('tool-worker').profiles).toBeUndefined();
  });

  it.each(['tool-worker', 'tool-worker-io'])('lets %s scale: no container_name, no host ports, no fixed worker id', (name) => {
    const svc = service(name);
    expect(svc.container_name).toBeUndefined();
    expect(svc.ports ?? []).toEqual([]);
    expect(resolvedEnv(name).VOLLEY_WORKER_ID ?? '').toBe('');
  });

  it('checks the orchestrator by /readyz on its own port', () => {
    const url = probedUrl(service('orchestrator'));
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).toBe(resolvedEnv('orchestrator').PORT);
    expect(url.pathname).toBe('/readyz');
  });

  it.each(['tool-worker', 'tool-worker-io'])('checks %s by /healthz on its metrics port (VOLLEY_METRICS_PORT)', (name) => {
    const port = resolvedEnv(name).VOLLEY_METRICS_PORT;
    expect(port).toBe('9464');
    const url = probedUrl(service(name));
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).toBe(port);
    expect(url.pathname).toBe('/healthz');
  });

  it.each(['orchestrator', 'tool-worker', 'tool-worker-io'])(
    'gives %s a stop_grace_period past its VOLLEY_SHUTDOWN_TIMEOUT_MS, so running work finishes before SIGKILL',
    (name) => {
      const config = parseAppEnv(appOf(name), resolvedEnv(name));
      const graceMs = durationMs(service(name).stop_grace_period ?? '10s');
      // At least 2 s more for closing connections and flushing traces after the drain.
      expect(graceMs).toBeGreaterThanOrEqual(Number(config.VOLLEY_SHUTDOWN_TIMEOUT_MS) + 2_000);
    },
  );

  it.each(['orchestrator', 'tool-worker', 'tool-worker-io'])('sets only variables %s reads, with values it accepts', (name) => {
    const env = resolvedEnv(name);
    expect(unknownVariables(appOf(name), Object.keys(env))).toEqual([]);
    expect(() => parseAppEnv(appOf(name), env)).not.toThrow();
  });

  it('mounts the io pool its tool module, where VOLLEY_TOOL_MODULES finds it', () => {
    const env = resolvedEnv('tool-worker-io');
    expect(env.VOLLEY_BUILTIN_TOOLS).toBe('false');
    const [source, target] = String(service('tool-worker-io').volumes?.[0]).split(':');
    const modulePath = `/app/${env.VOLLEY_TOOL_MODULES}`;
    expect(modulePath.startsWith(`${target}/`)).toBe(true);
    expect(existsSync(repoPath(`${source}${modulePath.slice(target!.length)}`))).toBe(true);
  });
});
