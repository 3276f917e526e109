import type { ToolCallResult } from '@volley/shared';

/**
 * Requests of this process waiting for their fan-in. When this process's turn worker gathers
 * one of them, it hands the results over in memory; a fan-in gathered by another instance
 * arrives through this process's inbox (see `FanInInbox`).
 */
export class FanInWaiters {
  private readonly waiting = new Map<string, (results: ToolCallResult[]) => void>();

  wait(fanInJobId: string): Promise<ToolCallResult[]> {
    return new Promise((resolve) => this.waiting.set(fanInJobId, resolve));
  }

  /** Whether a request of this process was waiting for it. */
  settle(fanInJobId: string, results: ToolCallResult[]): boolean {
    const waiting = this.waiting.get(fanInJobId);
    this.waiting.delete(fanInJobId);
    waiting?.(results);
    return waiting !== undefined;
  }

  forget(fanInJobId: string): void {
    this.waiting.delete(fanInJobId);
  }
}
