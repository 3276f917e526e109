import type { Logger } from '@volley/shared';
import type { JobWaker } from './job-waker.ts';
import type { LeaseRenewal } from './lease-renewal.ts';
import type { Claim } from './resource-claims.ts';
import type { ResourceLocks } from './resource-locks.ts';

/** A call that answered (timed out, cancelled) while its tool's body still runs. */
export interface Overrun {
  ticket: string;
  holder: string;
  claims: readonly Claim[];
  /** Its lease renewal, still running: the hold takes it over. */
  renewal: LeaseRenewal;
  /** Fires when the renewal finds the lease lost. */
  lost: AbortSignal;
  /** Settles when the tool's body does; never rejects. */
  body: Promise<unknown>;
  tool: string;
  taskId: string;
  toolCallId: string;
  fencingToken: number | Record<string, number> | undefined;
}

type Ending = 'settled' | 'abandoned' | 'lost' | 'shutdown';

/**
 * Mutual exclusion covers a tool's body, not only its answer. A locking call whose tool ignores
 * its signal answers on time (its job completes, its worker slot is free), but its resources
 * stay held, the lease renewed, while the body still runs — for at most `abandonAfterMs` past
 * the answer. The lock then goes: a warning, `onAbandoned(tool)`, and whoever is next takes the
 * resource with a higher fencing token, so a store that checks tokens refuses the body's late
 * write. A hold whose lease is found lost (the process was paused past it) is abandoned too.
 */
export class OverrunHolds {
  private readonly deps: {
    locks: ResourceLocks;
    waker: JobWaker;
    abandonAfterMs: number;
    logger: Logger;
    onAbandoned?: (tool: string) => void;
  };
  private readonly holds = new Map<Promise<void>, (ending: Ending) => Promise<void>>();

  constructor(deps: OverrunHolds['deps']) {
    this.deps = deps;
  }

  /** Bodies running past their answer, holding their locks. */
  get size(): number {
    return this.holds.size;
  }

  /** Holds the call's locks until its body settles or the bound passes; returns at once. */
  hold(overrun: Overrun): void {
    const { deps } = this;
    const { ticket, holder, claims, renewal, lost, tool, taskId, toolCallId, fencingToken } = overrun;
    const about = { tool, taskId, toolCallId, resources: claims.map((claim) => claim.key), fencingToken };
    if (lost.aborted) {
      renewal.stop();
      deps.onAbandoned?.(tool);
      deps.logger.warn(about, 'tool body runs on past its answer without its locks: they were already lost (lease lapsed)');
      return;
    }
    const answeredAt = Date.now();
    let ended = false;
    let done = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const end = async (ending: Ending): Promise<void> => {
      if (ended) return;
      ended = true;
      clearTimeout(bound);
      lost.removeEventListener('abort', onLost);
      renewal.stop();
      const overrunMs = Date.now() - answeredAt;
      try {
        // At shutdown the body dies with the process: its lease lapses after it, never before.
        if (ending === 'settled' || ending === 'abandoned') {
          await deps.waker.wake(await deps.locks.release(ticket, holder, claims, { keepPlace: false }));
        }
      } catch (error) {
        deps.logger.warn({ ...about, err: error }, 'could not release the locks of a tool body past its answer; they lapse with their lease');
      } finally {
        this.holds.delete(finished);
        done();
      }
      if (ending === 'settled') deps.logger.info({ ...about, overrunMs }, 'tool body settled after its answer; its locks are released');
      else if (ending === 'shutdown')
        deps.logger.warn({ ...about, overrunMs }, 'worker stopping with a tool body past its answer; its locks lapse with their lease');
      else {
        deps.onAbandoned?.(tool);
        const why = ending === 'abandoned' ? `still running ${deps.abandonAfterMs} ms past its answer (VOLLEY_ABANDON_AFTER_MS)` : 'its lease was lost';
        deps.logger.warn(
          { ...about, overrunMs, abandonAfterMs: deps.abandonAfterMs },
          `tool body abandoned: ${why}; its locks are released, its later writes carry a stale fencing token`,
        );
      }
    };
    const bound = setTimeout(() => void end('abandoned'), deps.abandonAfterMs);
    const onLost = () => void end('lost');
    lost.addEventListener('abort', onLost, { once: true });
    this.holds.set(finished, end);
    overrun.body.then(
      () => end('settled'),
      () => end('settled'),
    );
  }

  /**
   * For shutdown: waits up to `timeoutMs` for the held bodies to settle (their locks released as
   * usual), then stops renewing the rest, whose leases lapse once this process is gone.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.holds.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
    await Promise.race([Promise.all([...this.holds.keys()]), timeUp]);
    clearTimeout(timer);
    await Promise.all([...this.holds.values()].map((end) => end('shutdown')));
  }
}
