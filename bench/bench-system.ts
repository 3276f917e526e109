import { startScriptedModel } from '@volley/scripted-model';
import { startRedis } from '@volley/shared/testing';
import { Redis } from 'ioredis';
import type { BenchContext } from './bench-context.ts';
import { BareWorkerPool } from './bare-worker-pool.ts';
import type { BenchSettings } from './settings.ts';
import { VolleyCluster } from './volley-cluster.ts';

export interface BenchSystem {
  ctx: BenchContext;
  redisBackend: string;
  /** Stops everything this started, newest first; safe to call after a partial start. */
  stop(): Promise<void>;
}

/**
 * Starts what a run needs, each piece registered for stopping the moment it exists, so a
 * failure halfway through start-up leaves no process behind.
 */
export async function startBenchSystem(
  settings: BenchSettings,
  options: { log(message: string): void; orchestratorNodeOptions?: string; workerNodeOptions?: string; bareWorkerNodeOptions?: string },
): Promise<BenchSystem> {
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const step of stops.splice(0).reverse()) await step().catch((error: unknown) => options.log(`stop failed: ${String(error)}`));
  };
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const stats = new Redis(redis.url, { maxRetriesPerRequest: null });
    stops.push(() => stats.quit());
    // The responder is replaced by the agent-turn scenario; POST /v1/tool-calls never asks the model.
    const model = await startScriptedModel({ respond: () => ({ content: 'idle' }) });
    stops.push(() => model.close());
    const bareWorkers = new BareWorkerPool({
      redisUrl: redis.url,
      concurrency: settings.workerConcurrency,
      ...(options.bareWorkerNodeOptions ? { nodeOptions: options.bareWorkerNodeOptions } : {}),
    });
    stops.push(() => bareWorkers.stop());
    await bareWorkers.resize(1);
    const volley = await VolleyCluster.start({
      redisUrl: redis.url,
      modelUrl: model.url,
      workers: 1,
      workerConcurrency: settings.workerConcurrency,
      ...(options.orchestratorNodeOptions ? { orchestratorNodeOptions: options.orchestratorNodeOptions } : {}),
      ...(options.workerNodeOptions ? { workerNodeOptions: options.workerNodeOptions } : {}),
    });
    stops.push(() => volley.stop());
    const redisPid = Number(/process_id:(\d+)/.exec(await stats.info('server'))?.[1]);
    const processes = () => [
      // In a container Redis's pid is not one of ours to read.
      ...(redis.backend === 'redis-server' ? [{ name: 'redis-server', pid: redisPid }] : []),
      { name: 'orchestrator', pid: volley.orchestrator.pid },
      ...volley.workers.map((worker) => ({ name: 'Volley tool worker', pid: worker.pid })),
      ...bareWorkers.processes.map((worker) => ({ name: 'bare worker', pid: worker.pid })),
      { name: 'bench', pid: process.pid },
    ];
    options.log(`redis ${redis.url} (${redis.backend}), scripted model ${model.url}, orchestrator pid ${volley.orchestrator.pid}`);
    return {
      ctx: { settings, redisUrl: redis.url, redis: stats, model, volley, bareWorkers, processes, log: options.log },
      redisBackend: redis.backend,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
