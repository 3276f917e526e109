import type { Redis } from 'ioredis';
import { z } from 'zod';
import { needsApprovalSchema, openAIToolSchema } from '@volley/api-schemas';

/**
 * Where live workers say which tools they run. Each worker keeps a document under its own key
 * with a TTL it renews, and an entry in a sorted set scored by when that lease ends, so a
 * reader lists the live workers with one range query and fetches their documents with one MGET.
 */

export const publishedToolSchema = openAIToolSchema.extend({
  /** Runtime knobs the orchestrator needs to enqueue a call. */
  volley: z.object({
    sideEffects: z.boolean(),
    /** Calls take resource locks (the tool has side effects or declares resources). */
    locks: z.boolean(),
    timeoutMs: z.number().optional(),
    retries: z.number().int().min(0),
    /** Calls need a person's approval: always, or depending on their arguments ('dynamic'). */
    needsApproval: needsApprovalSchema.optional(),
  }),
});
export type PublishedTool = z.infer<typeof publishedToolSchema>;

export const workerDocumentSchema = z.object({
  id: z.string(),
  pool: z.string(),
  queue: z.string(),
  concurrency: z.number().int(),
  started_at: z.number(),
  tools: z.array(publishedToolSchema),
});
export type WorkerDocument = z.infer<typeof workerDocumentSchema>;

export function registryKeys(prefix: string) {
  return {
    workers: `${prefix}:registry:workers`,
    /** Every pool some worker served, so a pool whose workers all died still shows its backlog. */
    pools: `${prefix}:registry:pools`,
    worker: (id: string) => `${prefix}:registry:worker:${id}`,
  };
}

export interface WorkerRegistration {
  /** Publishes the worker's tools anew (its MCP servers' tools changed); readers see them at their next read. */
  updateTools(tools: WorkerDocument['tools']): Promise<void>;
  stop(): Promise<void>;
}

/** Publishes one worker's document and keeps its lease alive until `stop()`. */
export async function registerWorker(
  redis: Redis,
  prefix: string,
  document: WorkerDocument,
  options: { leaseMs: number; onError: (error: unknown) => void },
): Promise<WorkerRegistration> {
  const keys = registryKeys(prefix);
  let body = JSON.stringify(document);
  let stopped = false;
  const publish = async (): Promise<void> => {
    const expiresAt = Date.now() + options.leaseMs;
    // PEXPIRE keeps the heartbeat small; the document is written again only when it is gone
    // (lease lapsed, or Redis lost its data).
    const [[, renewed]] = (await redis
      .multi()
      .pexpire(keys.worker(document.id), options.leaseMs)
      .zadd(keys.workers, expiresAt, document.id)
      .sadd(keys.pools, document.pool)
      .exec()) as [[unknown, number]];
    if (renewed === 0) await redis.set(keys.worker(document.id), body, 'PX', options.leaseMs);
  };
  await redis.set(keys.worker(document.id), body, 'PX', options.leaseMs);
  await publish();
  const timer = setInterval(() => publish().catch(options.onError), Math.max(100, Math.floor(options.leaseMs / 3)));
  timer.unref();
  return {
    async updateTools(tools) {
      // Kept for the heartbeat too, which writes the document again should it be gone.
      body = JSON.stringify({ ...document, tools });
      if (!stopped) await redis.set(keys.worker(document.id), body, 'PX', options.leaseMs);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await redis.multi().del(keys.worker(document.id)).zrem(keys.workers, document.id).exec();
    },
  };
}

/** The documents of every worker whose lease has not ended. */
export async function listLiveWorkers(redis: Redis, prefix: string): Promise<WorkerDocument[]> {
  const keys = registryKeys(prefix);
  const now = Date.now();
  const [, [, ids]] = (await redis.multi().zremrangebyscore(keys.workers, '-inf', now).zrangebyscore(keys.workers, now, '+inf').exec()) as [
    [unknown, number],
    [unknown, string[]],
  ];
  if (ids.length === 0) return [];
  const bodies = await redis.mget(...ids.map((id) => keys.worker(id)));
  const documents: WorkerDocument[] = [];
  for (const body of bodies) {
    if (body === null) continue;
    const parsed = workerDocumentSchema.safeParse(JSON.parse(body));
    if (parsed.success) documents.push(parsed.data);
  }
  return documents;
}

/** Every pool a worker has served and that was not forgotten since (see `forgetPool`). */
export async function listKnownPools(redis: Redis, prefix: string): Promise<string[]> {
  return redis.smembers(registryKeys(prefix).pools);
}

/** Drops a pool from the known ones (its workers are gone and its queue is empty); a worker of it adds it back. */
export async function forgetPool(redis: Redis, prefix: string, pool: string): Promise<void> {
  await redis.srem(registryKeys(prefix).pools, pool);
}
