import type { Claim } from './resource-claims.ts';
import type { ResourceLocks } from './resource-locks.ts';

export interface LeaseRenewal {
  /** Stops renewing (idempotent); `onLost` is not called after it. */
  stop(): void;
}

/**
 * Renews one holder's lease every third of it until stopped. When a renewal finds the holder
 * gone (its lease lapsed, e.g. the process was paused, and another run took over or the ticket
 * was dropped), it stops and calls `onLost` once. A renewal that fails on Redis is tried again at
 * the next tick.
 */
export function renewLease(locks: ResourceLocks, ticket: string, holder: string, claims: readonly Claim[], onLost: () => void): LeaseRenewal {
  let stopped = false;
  const timer = setInterval(
    () => {
      locks
        .renew(ticket, holder, claims)
        .then((held) => {
          if (held || stopped) return;
          stop();
          onLost();
        })
        .catch(() => undefined);
    },
    Math.max(50, Math.floor(locks.leaseMs / 3)),
  );
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return { stop };
}
