/**
 * Bounds the calls in flight to one MCP server. A call waiting for a slot leaves the line when
 * its signal fires (timeout, cancel), so a slow server costs callers their own deadline, never more.
 */
export class CallSlots {
  private readonly limit: number;
  private inUse = 0;
  private readonly waiting: Array<() => void> = [];

  /** `limit` undefined: no bound. */
  constructor(limit: number | undefined) {
    this.limit = limit ?? Number.POSITIVE_INFINITY;
  }

  get busy(): number {
    return this.inUse;
  }

  /** Resolves with the slot's release once one is free; rejects with the signal's reason if it fires first. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.inUse < this.limit) {
      this.inUse += 1;
      return this.releaser();
    }
    // A slot freed for this waiter is handed over as it is (still counted), so no newcomer takes it in between.
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal.reason);
      };
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiting.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.inUse -= 1;
    };
  }
}
