import { randomBytes } from 'node:crypto';

/**
 * Span ids Volley chooses itself. Some spans begin in one process and end in another (a
 * task's span, a turn's fan-out span): their ids are reserved up front so children anywhere can
 * name them as parent, and the span is emitted under that id when it ends. The SDK takes ids
 * from this generator, which hands out a reserved id when one is being emitted.
 */
let forced: { traceId?: string; spanId: string } | undefined;

export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

export function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

export const volleyIdGenerator = {
  generateTraceId: (): string => forced?.traceId ?? newTraceId(),
  generateSpanId: (): string => {
    const id = forced?.spanId ?? newSpanId();
    forced = undefined;
    return id;
  },
};

/** Runs `start` (which must create exactly one span, synchronously) under the given ids. */
export function withForcedIds<T>(ids: { traceId?: string; spanId: string }, start: () => T): T {
  forced = ids;
  try {
    return start();
  } finally {
    forced = undefined;
  }
}
