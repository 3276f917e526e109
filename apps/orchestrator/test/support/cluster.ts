import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startScriptedModel, type Responder, type ScriptedModel } from '@volley/scripted-model';
import { freePort, spawnNode, startRedis, startRedisCluster, waitFor, type NodeProcess, type StartRedisOptions, type TestRedis } from '@volley/shared/testing';
import { TERMINAL_STATUSES } from '../../src/tasks/task-record.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const WORKER_MAIN = `${repoRoot}apps/tool-worker/src/main.ts`;
export const ORCHESTRATOR_MAIN = `${repoRoot}apps/orchestrator/src/main.ts`;
export const TEST_TOOLS = `${repoRoot}apps/orchestrator/test/fixtures/test-tools.ts`;
/** Tools whose effects land in Redis, for tests that watch them across processes. */
export const STATEFUL_TOOLS = `${repoRoot}apps/orchestrator/test/fixtures/stateful-tools.ts`;

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

/** A thin HTTP client for one orchestrator instance. */
export class Api {
  readonly baseUrl: string;
  /** Sent with every request (e.g. an API key); see `withHeaders`. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(baseUrl: string, headers: Record<string, string> = {}) {
    this.baseUrl = baseUrl;
    this.headers = headers;
  }

  /** The same orchestrator, with these headers on every request (e.g. `{ authorization: 'Bearer …' }`). */
  withHeaders(headers: Record<string, string>): Api {
    return new Api(this.baseUrl, { ...this.headers, ...headers });
  }

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    raw?: { body: string; contentType: string },
    extraHeaders: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const { status, body: answer } = await this.exchange<T>(method, path, body, raw, extraHeaders);
    return { status, body: answer };
  }

  /** As `request`, with the response's headers too. */
  async exchange<T = any>(
    method: string,
    path: string,
    body?: unknown,
    raw?: { body: string; contentType: string },
    extraHeaders: Record<string, string> = {},
  ): Promise<ApiResponse<T> & { headers: Headers }> {
    const headers: Record<string, string> = { ...this.headers, ...extraHeaders };
    let payload: string | undefined;
    if (raw) {
      headers['content-type'] = raw.contentType;
      payload = raw.body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown) {
    return this.request<T>('POST', path, body);
  }

  /** Polls a task until it reaches a terminal status. */
  async waitForTask(id: string, timeoutMs = 20_000): Promise<any> {
    return waitFor(
      async () => {
        const { status, body } = await this.get(`/v1/tasks/${id}`);
        return status === 200 && TERMINAL_STATUSES.has(body.status) ? body : undefined;
      },
      { timeoutMs, message: `task ${id} did not finish` },
    );
  }
}

export interface ClusterOptions {
  respond?: Responder;
  redis?: StartRedisOptions;
  /** The `REDIS_URL` the processes get (default `redis.url`; e.g. `redis.tlsUrl`). */
  redisUrl?: (redis: TestRedis) => string;
  /** Run on a 3-master Redis Cluster instead of one Redis (processes get REDIS_CLUSTER_NODES). */
  redisCluster?: boolean;
  /** `VOLLEY_SHARDS` of every process (default: unset, one shard). */
  shards?: number;
  workers?: number;
  orchestrators?: number;
  toolModules?: string[];
  workerEnv?: Record<string, string>;
  orchestratorEnv?: Record<string, string>;
}

/** A Redis Cluster seen through the single-Redis handle tests use (its first node). */
async function clusterAsTestRedis(): Promise<TestRedis & { clusterNodes: string[] }> {
  const cluster = await startRedisCluster();
  const [host, port] = cluster.nodes[0]!.split(':') as [string, string];
  return { url: `redis://${cluster.nodes[0]}`, host, port: Number(port), backend: 'redis-server', clusterNodes: cluster.nodes, stop: cluster.stop };
}

export interface Cluster {
  redis: TestRedis & { clusterNodes?: string[] };
  model: ScriptedModel;
  workers: NodeProcess[];
  orchestrators: NodeProcess[];
  apis: Api[];
  api: Api;
  /** Starts one more tool worker with the cluster's settings (e.g. to replace a killed one), plus `env`. */
  addWorker(name: string, env?: Record<string, string>): Promise<NodeProcess>;
  /** Starts one more orchestrator instance; its API is appended to `apis`. */
  addOrchestrator(): Promise<Api>;
  /**
   * A client of the (standalone) Redis, for a test's own reads: made on first use, closed by
   * `stop`; it waits out a Redis restart instead of failing commands.
   */
  readonly client: Redis;
  stop(): Promise<void>;
}

const isReady = (msg: string) => (line: { msg?: string }) => line.msg === msg;

/**
 * A real Volley on loopback: a Redis, the scripted model over HTTP, tool-worker and
 * orchestrator processes spawned from their `main.ts`, configured by environment only.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const redis: TestRedis & { clusterNodes?: string[] } = options.redisCluster ? await clusterAsTestRedis() : await startRedis(options.redis);
  const model = await startScriptedModel({
    respond: options.respond ?? (() => ({ content: 'done' })),
    latencyMs: 0,
  });
  const common: Record<string, string> = {
    ...(options.redisCluster
      ? { REDIS_CLUSTER_NODES: redis.clusterNodes!.join(','), LOG_LEVEL: 'info' }
      : { REDIS_URL: options.redisUrl?.(redis) ?? redis.url, LOG_LEVEL: 'info' }),
    ...(options.shards === undefined ? {} : { VOLLEY_SHARDS: String(options.shards) }),
  };
  const startWorker = (name: string, env: Record<string, string> = {}) =>
    spawnNode({
      name,
      script: WORKER_MAIN,
      env: {
        ...common,
        VOLLEY_WORKER_ID: name,
        VOLLEY_TOOL_MODULES: (options.toolModules ?? [TEST_TOOLS]).join(','),
        // Several workers on one host: each takes a free port for /metrics (logged as metricsPort).
        VOLLEY_METRICS_PORT: '0',
        VOLLEY_METRICS_HOST: '127.0.0.1',
        ...options.workerEnv,
        ...env,
      },
      ready: isReady('worker ready'),
    });
  const workers = await Promise.all(Array.from({ length: options.workers ?? 2 }, (_, index) => startWorker(`worker-${index + 1}`)));
  const orchestrators: NodeProcess[] = [];
  const apis: Api[] = [];
  const startOrchestrator = async (): Promise<Api> => {
    const port = await freePort();
    orchestrators.push(
      await spawnNode({
        name: `orchestrator-${orchestrators.length + 1}`,
        script: ORCHESTRATOR_MAIN,
        env: {
          ...common,
          PORT: String(port),
          HOST: '127.0.0.1',
          OPENAI_BASE_URL: model.url,
          OPENAI_API_KEY: 'test-key',
          VOLLEY_MODEL: 'scripted',
          ...options.orchestratorEnv,
        },
        ready: isReady('orchestrator ready'),
      }),
    );
    const api = new Api(`http://127.0.0.1:${port}`);
    apis.push(api);
    return api;
  };
  for (let index = 0; index < (options.orchestrators ?? 1); index += 1) await startOrchestrator();
  let client: Redis | undefined;
  return {
    redis,
    model,
    workers,
    orchestrators,
    apis,
    api: apis[0]!,
    async addWorker(name, env) {
      const worker = await startWorker(name, env);
      workers.push(worker);
      return worker;
    },
    addOrchestrator: startOrchestrator,
    get client() {
      client ??= new Redis(redis.url, { maxRetriesPerRequest: null });
      return client;
    },
    async stop() {
      client?.disconnect();
      await Promise.allSettled([...orchestrators, ...workers].map((child) => child.stop()));
      await Promise.allSettled([model.close(), redis.stop()]);
    },
  };
}
