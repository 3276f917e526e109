import { errorBody, type Logger } from '@volley/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** What a refused client is told to wait before it tries again, in seconds. */
export const RETRY_AFTER_SECONDS = 1;

/** Routes that answer without Redis, or ask it themselves (`/readyz`): never refused here. */
const UNGATED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

export interface RedisGateOptions {
  /**
   * A command that waits for Redis however long it takes (the engine's connection, which has
   * no command timeout): its answer is what says Redis is back.
   */
  probe: () => Promise<unknown>;
  logger: Logger;
  /**
   * Pause before probing again when a probe failed outright (a closed connection).
   * @defaultValue 250
   */
  retryMs?: number;
}

/**
 * Whether request handling may use Redis. Once a request's Redis command timed out or its
 * connection failed (`markUnavailable`), Redis is known not to answer, and every request but the
 * probes is refused with 503 `redis_unavailable` in `onRequest` — before its body is read, so a
 * client that keeps sending large bodies costs no memory — until Redis answers a probe again.
 *
 * One probe is in flight at a time and it is never given up on: a frozen Redis answers its
 * commands in order once it wakes, so a probe that waits is answered the moment Redis is back,
 * while one abandoned at a timeout would leave its command queued and the next probe behind
 * it, one more per try for as long as the outage lasts.
 */
export class RedisGate {
  private readonly options: RedisGateOptions;
  private down: { since: number } | undefined;
  private closed = false;

  constructor(options: RedisGateOptions) {
    this.options = options;
  }

  get open(): boolean {
    return this.down === undefined;
  }

  /** Milliseconds since Redis was found not answering, or 0 while it answers. */
  unavailableForMs(): number {
    return this.down ? Date.now() - this.down.since : 0;
  }

  /** A command of request handling got no answer: refuse requests until Redis answers the probe. */
  markUnavailable(error: unknown): void {
    if (this.down || this.closed) return;
    this.down = { since: Date.now() };
    this.options.logger.warn({ err: error }, 'redis not answering: refusing requests with 503 until it does');
    void this.probeUntilAnswered();
  }

  /** Stops probing (shutdown). */
  close(): void {
    this.closed = true;
  }

  private async probeUntilAnswered(): Promise<void> {
    const retryMs = this.options.retryMs ?? 250;
    while (!this.closed) {
      try {
        await this.options.probe();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
      }
    }
    if (this.closed) return;
    this.options.logger.info({ unavailable_ms: this.unavailableForMs() }, 'redis answers again: taking requests');
    this.down = undefined;
  }
}

/** 503 `redis_unavailable` with `retry-after`: the one answer to a request Redis failed. */
export function replyRedisUnavailable(reply: FastifyReply, message: string): FastifyReply {
  return reply.status(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send(errorBody('redis_unavailable', message));
}

/** Refuses requests while `gate` is closed; registered ahead of every other `onRequest` hook that may use Redis. */
export function registerRedisGate(app: FastifyInstance, gate: RedisGate): void {
  app.addHook('onRequest', async (request, reply) => {
    if (gate.open || UNGATED_ROUTES.has(request.routeOptions.url ?? '')) return;
    const seconds = Math.floor(gate.unavailableForMs() / 1000);
    return replyRedisUnavailable(reply, `Redis has not answered for ${seconds} s; requests are refused until it does`);
  });
}
