import { listLiveWorkers, oneAtATime, type OpenAITool, type PublishedTool } from '@volley/shared';
import type { Redis } from 'ioredis';

export interface CatalogEntry {
  tool: PublishedTool;
  pool: string;
  queue: string;
  /** Live workers serving the tool. */
  workers: number;
}

export type Catalog = ReadonlyMap<string, CatalogEntry>;

/**
 * Every tool some live worker runs, and the queue that reaches it. Read from the registry at
 * most every `maxAgeMs`; a name not found forces one fresh read, so a tool whose worker just
 * started is found without waiting for the next refresh.
 */
export class ToolCatalog {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly maxAgeMs: number;
  private snapshot: { at: number; entries: Catalog } | undefined;
  /** Reads the registry now; requests arriving meanwhile share the read. */
  readonly refresh: () => Promise<Catalog> = oneAtATime(() => this.read());

  constructor(deps: { redis: Redis; prefix: string; maxAgeMs?: number }) {
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.maxAgeMs = deps.maxAgeMs ?? 1000;
  }

  async current(): Promise<Catalog> {
    if (this.snapshot && Date.now() - this.snapshot.at < this.maxAgeMs) return this.snapshot.entries;
    return this.refresh();
  }

  /** The catalog, re-read first if any of `names` is missing from the cached one. */
  async covering(names: Iterable<string>): Promise<Catalog> {
    const catalog = await this.current();
    for (const name of names) {
      if (!catalog.has(name)) return this.snapshot && Date.now() - this.snapshot.at < 100 ? catalog : this.refresh();
    }
    return catalog;
  }

  private async read(): Promise<Catalog> {
    const workers = await listLiveWorkers(this.redis, this.prefix);
    // Oldest worker first: when pools disagree about a tool, the longest-serving one wins.
    workers.sort((a, b) => a.started_at - b.started_at || a.id.localeCompare(b.id));
    const entries = new Map<string, CatalogEntry>();
    for (const worker of workers) {
      for (const tool of worker.tools) {
        const known = entries.get(tool.function.name);
        if (!known) entries.set(tool.function.name, { tool, pool: worker.pool, queue: worker.queue, workers: 1 });
        else if (known.pool === worker.pool) known.workers += 1;
      }
    }
    this.snapshot = { at: Date.now(), entries };
    return entries;
  }
}

/** The tool as sent to the model: the OpenAI part only. */
export function modelTool(entry: CatalogEntry): OpenAITool {
  return { type: 'function', function: entry.tool.function };
}
