import type { ToolCallResult } from '@volley/shared';

/** One request's wait for the results of its bare fan-out's calls. */
export interface FanInWait {
  /** Resolves once every call waited for has a result, keyed by tool_call_id. */
  all: Promise<ReadonlyMap<string, ToolCallResult>>;
  /** The results that arrived so far. */
  received: ReadonlyMap<string, ToolCallResult>;
}

interface Gathering {
  expected: ReadonlySet<string>;
  received: Map<string, ToolCallResult>;
  resolve(received: ReadonlyMap<string, ToolCallResult>): void;
}

/**
 * Requests of this process waiting for their bare fan-outs, which gather here: each call's
 * result arrives on its own through this process's inbox (see `FanInInbox`). The first result
 * per call is kept: a call run twice (its worker paused past its job lock, or died after
 * delivering) may deliver twice.
 */
export class FanInWaiters {
  private readonly waiting = new Map<string, Gathering>();

  wait(fanOutId: string, toolCallIds: readonly string[]): FanInWait {
    const received = new Map<string, ToolCallResult>();
    const all = new Promise<ReadonlyMap<string, ToolCallResult>>((resolve) => {
      this.waiting.set(fanOutId, { expected: new Set(toolCallIds), received, resolve });
    });
    return { all, received };
  }

  /** Takes results of a fan-out's calls; those of a fan-out nobody here waits for are let go. */
  settle(fanOutId: string, results: readonly ToolCallResult[]): void {
    const gathering = this.waiting.get(fanOutId);
    if (!gathering) return;
    for (const result of results) {
      if (gathering.expected.has(result.tool_call_id) && !gathering.received.has(result.tool_call_id)) gathering.received.set(result.tool_call_id, result);
    }
    if (gathering.received.size < gathering.expected.size) return;
    this.waiting.delete(fanOutId);
    gathering.resolve(gathering.received);
  }

  forget(fanOutId: string): void {
    this.waiting.delete(fanOutId);
  }
}
