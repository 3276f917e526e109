import { TERMINAL_STATUSES } from '../../src/tasks/task-record.ts';
import type { ApiResponse, Cluster } from './cluster.ts';

/**
 * The HTTP side of a cluster whose orchestrators are being killed and paused: requests go to an
 * instance that is neither, with a deadline of their own (a paused process accepts connections
 * and answers nothing), and idempotent ones are retried on another instance.
 */
export class LiveOrchestrators {
  private readonly cluster: Cluster;
  /** Indexes (in `cluster.orchestrators` / `cluster.apis`) of instances paused right now. */
  readonly paused = new Set<number>();

  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  /** Instances that are alive and not paused. */
  usable(): number[] {
    return this.cluster.orchestrators.flatMap((process, index) => (process.alive() && !this.paused.has(index) ? [index] : []));
  }

  /** One attempt on one usable instance (`pick` chooses among them); throws on a timeout or a dropped connection. */
  async once<T = any>(method: string, path: string, body: unknown, options: { timeoutMs: number; pick?: (count: number) => number }): Promise<ApiResponse<T>> {
    const usable = this.usable();
    if (usable.length === 0) throw new Error('no orchestrator is alive and running');
    const index = usable[options.pick ? options.pick(usable.length) : 0]!;
    const api = this.cluster.apis[index]!;
    const response = await fetch(`${api.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  }

  /**
   * An idempotent request, retried (on another instance, after a short wait) until it answers
   * below 500 or `withinMs` passes: a dropped connection, a timeout and a 5xx are all "try again".
   */
  async retried<T = any>(method: string, path: string, body?: unknown, withinMs = 30_000): Promise<ApiResponse<T>> {
    const deadline = Date.now() + withinMs;
    let attempt = 0;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const answer = await this.once<T>(method, path, body, { timeoutMs: 3_000, pick: (count) => attempt % count });
        if (answer.status < 500) return answer;
        last = new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      } catch (error) {
        last = error;
      }
      attempt += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${method} ${path} got no answer within ${withinMs} ms: ${String(last)}`, { cause: last });
  }

  /** Polls a task until it reaches a terminal status. */
  async waitForTask(id: string, withinMs: number): Promise<any> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const { status, body } = await this.retried('GET', `/v1/tasks/${id}`, undefined, Math.max(1_000, deadline - Date.now()));
      if (status === 200 && TERMINAL_STATUSES.has(body.status)) return body;
      if (Date.now() > deadline) throw new Error(`task ${id} did not finish within ${withinMs} ms (last status ${status}: ${body?.status})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
