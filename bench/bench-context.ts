import type { ScriptedModel } from '@volley/scripted-model';
import type { Redis } from 'ioredis';
import type { BareWorkerPool } from './bare-worker-pool.ts';
import type { NamedPid } from './process-cpu.ts';
import type { BenchSettings } from './settings.ts';
import type { VolleyCluster } from './volley-cluster.ts';

/** What every scenario gets: the one Redis, Volley, the bare baseline's workers, and the knobs. */
export interface BenchContext {
  settings: BenchSettings;
  redisUrl: string;
  /** A connection of the bench's own, for INFO and nothing on the measured path. */
  redis: Redis;
  model: ScriptedModel;
  volley: VolleyCluster;
  bareWorkers: BareWorkerPool;
  /** Every process of the run by role (Redis, orchestrator, workers, this bench), as of now. */
  processes(): NamedPid[];
  log(message: string): void;
}
