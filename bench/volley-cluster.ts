import { fileURLToPath } from 'node:url';
import { freePort, spawnNode, waitFor, type NodeProcess } from '@volley/shared/testing';
import { JsonClient } from './http-client.ts';
import { NOOP_TOOL } from './tool-functions.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const ORCHESTRATOR_MAIN = `${repoRoot}apps/orchestrator/src/main.ts`;
const WORKER_MAIN = `${repoRoot}apps/tool-worker/src/main.ts`;
const BENCH_TOOLS = fileURLToPath(new URL('./bench-tools.ts', import.meta.url));

export interface VolleyClusterOptions {
  redisUrl: string;
  modelUrl: string;
  workers: number;
  workerConcurrency: number;
  /** Extra Node flags for the orchestrator, e.g. `--cpu-prof`: spawnNode puts `args` after the script. */
  orchestratorNodeOptions?: string;
  workerNodeOptions?: string;
}

interface ToolsBody {
  tools: Array<{ function: { name: string }; workers: number }>;
}

/**
 * Volley as a user runs it: one orchestrator and some tool-worker processes, spawned from their
 * `main.ts` and configured by environment only. `LOG_LEVEL=warn` keeps logging off the hot
 * path, so readiness is read from the HTTP API rather than from the (info) ready lines.
 */
export class VolleyCluster {
  readonly api: JsonClient;
  readonly orchestrator: NodeProcess;
  readonly workers: NodeProcess[];
  private readonly options: VolleyClusterOptions;
  private spawned: number;

  private constructor(options: VolleyClusterOptions, orchestrator: NodeProcess, api: JsonClient, workers: NodeProcess[]) {
    this.options = options;
    this.orchestrator = orchestrator;
    this.api = api;
    this.workers = workers;
    this.spawned = workers.length;
  }

  static async start(options: VolleyClusterOptions): Promise<VolleyCluster> {
    const workers: NodeProcess[] = [];
    let orchestrator: NodeProcess | undefined;
    try {
      for (let index = 1; index <= options.workers; index += 1) workers.push(await spawnWorker(options, index));
      const port = await freePort();
      orchestrator = await spawnNode({
        name: 'orchestrator',
        script: ORCHESTRATOR_MAIN,
        cwd: repoRoot,
        env: {
          REDIS_URL: options.redisUrl,
          PORT: String(port),
          HOST: '127.0.0.1',
          OPENAI_BASE_URL: options.modelUrl,
          OPENAI_API_KEY: 'bench',
          VOLLEY_MODEL: 'scripted',
          LOG_LEVEL: 'warn',
          NODE_OPTIONS: options.orchestratorNodeOptions,
        },
      });
      const cluster = new VolleyCluster(options, orchestrator, new JsonClient(`http://127.0.0.1:${port}`), workers);
      await cluster.untilReady();
      return cluster;
    } catch (error) {
      await Promise.allSettled([...workers, ...(orchestrator ? [orchestrator] : [])].map((child) => child.stop()));
      throw error;
    }
  }

  /** Grows or shrinks the worker processes, and waits until the orchestrator's catalog agrees. */
  async resizeWorkers(count: number): Promise<void> {
    while (this.workers.length > count) await this.workers.pop()!.stop();
    while (this.workers.length < count) {
      this.spawned += 1;
      this.workers.push(await spawnWorker(this.options, this.spawned));
    }
    await this.untilReady();
  }

  async stop(): Promise<void> {
    this.api.close();
    // The orchestrator first: its --cpu-prof profile is written on a clean exit.
    await this.orchestrator.stop('SIGTERM', 15_000);
    await Promise.allSettled(this.workers.splice(0).map((child) => child.stop('SIGTERM', 15_000)));
  }

  private async untilReady(): Promise<void> {
    const expected = this.workers.length;
    try {
      await waitFor(
        async () => {
          const ready = await this.api.get('/readyz');
          if (ready.status !== 200) return false;
          const { body } = await this.api.get<ToolsBody>('/v1/tools');
          return body.tools.find((tool) => tool.function.name === NOOP_TOOL)?.workers === expected;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } catch (error) {
      const stderr = [this.orchestrator, ...this.workers].map((child) => `[${child.name}] ${child.stderr().slice(-2_000)}`);
      throw new Error(`volley cluster not ready with ${expected} worker(s)\n${stderr.join('\n')}`, { cause: error });
    }
  }
}

function spawnWorker(options: VolleyClusterOptions, index: number): Promise<NodeProcess> {
  return spawnNode({
    name: `worker-${index}`,
    script: WORKER_MAIN,
    cwd: repoRoot,
    env: {
      REDIS_URL: options.redisUrl,
      VOLLEY_TOOL_MODULES: BENCH_TOOLS,
      VOLLEY_BUILTIN_TOOLS: 'false',
      VOLLEY_WORKER_CONCURRENCY: String(options.workerConcurrency),
      VOLLEY_WORKER_ID: `bench-worker-${index}`,
      // Several workers on one machine: each its own free metrics port, on loopback.
      VOLLEY_METRICS_PORT: '0',
      VOLLEY_METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_OPTIONS: options.workerNodeOptions,
    },
  });
}
