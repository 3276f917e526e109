/**
 * Requests made in one tick of the event loop, sent together: one batch per key (a key space, so
 * each batch stays in one hash slot on a Cluster), at most `maxBatch` requests per send, flushed
 * on `process.nextTick` — after the microtasks of the socket read that brought the work, so every
 * job that arrived in one read is in. A worker under load handles many calls per read of its
 * connection, and one script per call was its largest own cost (bench --profile); ioredis
 * auto-pipelining was measured instead and saved nothing: it batches the writes, not Redis's
 * per-command work. A failed send rejects only the requests of its batch.
 */
export class TickBatches<Request, Reply> {
  private readonly pending = new Map<string, Array<{ request: Request; resolve(reply: Reply): void; reject(error: unknown): void }>>();

  private readonly send: (key: string, requests: Request[]) => Promise<Reply[]>;
  private readonly maxBatch: number;

  constructor(
    /** Sends one batch; resolves with one reply per request, in order. */
    send: (key: string, requests: Request[]) => Promise<Reply[]>,
    /** Requests per send at most: bounds how long one script holds Redis. */
    maxBatch = 64,
  ) {
    this.send = send;
    this.maxBatch = maxBatch;
  }

  add(key: string, request: Request): Promise<Reply> {
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(key);
      if (!batch) {
        batch = [];
        this.pending.set(key, batch);
        process.nextTick(() => this.flush(key));
      }
      batch.push({ request, resolve, reject });
    });
  }

  private flush(key: string): void {
    const batch = this.pending.get(key) ?? [];
    this.pending.delete(key);
    for (let from = 0; from < batch.length; from += this.maxBatch) {
      const part = batch.slice(from, from + this.maxBatch);
      this.send(
        key,
        part.map((entry) => entry.request),
      ).then(
        (replies) => {
          for (const [index, entry] of part.entries()) entry.resolve(replies[index]!);
        },
        (error: unknown) => {
          for (const entry of part) entry.reject(error);
        },
      );
    }
  }
}
