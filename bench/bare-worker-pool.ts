import { fileURLToPath } from 'node:url';
import { spawnNode, type NodeProcess } from '@volley/shared/testing';

const BARE_WORKER = fileURLToPath(new URL('./bare-worker.ts', import.meta.url));

/** The bare baseline's tool-worker processes, grown or shrunk to the count a scenario needs. */
export class BareWorkerPool {
  readonly processes: NodeProcess[] = [];
  private readonly redisUrl: string;
  private readonly concurrency: number;
  private readonly nodeOptions: string | undefined;

  constructor(options: { redisUrl: string; concurrency: number; nodeOptions?: string }) {
    this.redisUrl = options.redisUrl;
    this.concurrency = options.concurrency;
    this.nodeOptions = options.nodeOptions;
  }

  async resize(count: number): Promise<void> {
    while (this.processes.length > count) await this.processes.pop()!.stop();
    const missing = count - this.processes.length;
    const started = await Promise.all(
      Array.from({ length: missing }, (_, index) =>
        spawnNode({
          name: `bare-worker-${this.processes.length + index + 1}`,
          script: BARE_WORKER,
          env: { REDIS_URL: this.redisUrl, BARE_CONCURRENCY: String(this.concurrency), NODE_OPTIONS: this.nodeOptions },
          ready: (line) => line.msg === 'bare worker ready',
        }),
      ),
    );
    this.processes.push(...started);
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.processes.splice(0).map((child) => child.stop()));
  }
}
