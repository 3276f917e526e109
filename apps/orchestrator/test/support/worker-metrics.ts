import { parsePrometheusText, sampleValue, type NodeProcess } from '@volley/shared/testing';
import type { Cluster } from './cluster.ts';

/** The port of a worker's `/metrics`, as its `worker ready` line says (tests give workers port 0). */
export const metricsPort = (worker: NodeProcess) => worker.lines.find((line) => line.msg === 'worker ready')?.metricsPort as number;

/** A worker metric's sample summed over the cluster's live workers (0 where a worker has none). */
export async function workerTotal(cluster: Cluster, name: string, labels: Record<string, string>): Promise<number> {
  const live = cluster.workers.filter((worker) => worker.alive());
  const texts = await Promise.all(live.map(async (worker) => (await fetch(`http://127.0.0.1:${metricsPort(worker)}/metrics`)).text()));
  return texts.reduce((sum, text) => sum + (sampleValue(parsePrometheusText(text), name, labels) ?? 0), 0);
}
