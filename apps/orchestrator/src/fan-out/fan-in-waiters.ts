import type { ToolCallResult } from '@volley/shared';

/**
 * Requests of this process waiting for their fan-in. When this process's turn worker gathers
 * one of them, it hands the results over in memory instead of through Redis (the job's
 * completion event): one hop less on the common path. A fan-in gathered by another instance
 * still arrives through the event.
 */
export class FanInWaiters {
  private readonly waiting = new Map<string, (results: ToolCallResult[]) => void>();

  wait(fanInJobId: string): Promise<ToolCallResult[]> {
    return new Promise((resolve) => this.waiting.set(fanInJobId, resolve));
  }

  settle(fanInJobId: string, results: ToolCallResult[]): void {
    this.waiting.get(fanInJobId)?.(results);
    this.waiting.delete(fanInJobId);
  }

  forget(fanInJobId: string): void {
    this.waiting.delete(fanInJobId);
  }
}
