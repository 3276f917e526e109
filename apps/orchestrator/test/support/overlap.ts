/** Checks what the `touch` fixture reports: who held which resource, and when. */

export interface Touch {
  message: number;
  index: number;
  label: string;
  claims: Array<{ key: string; mode: 'read' | 'write' }>;
  enter: number;
  exit: number;
  fencingToken: number | Record<string, number> | null;
}

/** Timestamps come from different processes' clocks; allow for their rounding, not for overlap. */
const TOLERANCE_MS = 0.5;

const conflict = (a: Touch, b: Touch) =>
  a.claims.flatMap((ca) => b.claims.filter((cb) => cb.key === ca.key && (ca.mode === 'write' || cb.mode === 'write')).map((cb) => cb.key));

export const overlaps = (a: Touch, b: Touch) => a.enter < b.exit - TOLERANCE_MS && b.enter < a.exit - TOLERANCE_MS;

/** Pairs that held one resource at once with at least one of them writing. */
export function exclusionViolations(touches: readonly Touch[]): string[] {
  const violations: string[] = [];
  for (let i = 0; i < touches.length; i += 1) {
    for (let j = i + 1; j < touches.length; j += 1) {
      const [a, b] = [touches[i]!, touches[j]!];
      const keys = conflict(a, b);
      if (keys.length > 0 && overlaps(a, b)) violations.push(`${a.label} and ${b.label} overlapped on ${keys.join(',')}`);
    }
  }
  return violations;
}

/** Conflicting calls of one message that did not run in the model's order. */
export function orderViolations(touches: readonly Touch[]): string[] {
  const violations: string[] = [];
  for (const a of touches) {
    for (const b of touches) {
      if (a.message !== b.message || a.index >= b.index || conflict(a, b).length === 0) continue;
      if (b.enter < a.exit - TOLERANCE_MS) violations.push(`${b.label} entered before ${a.label} left`);
    }
  }
  return violations;
}

/** Pairs of calls with nothing in conflict that ran at the same time. */
export function independentOverlaps(touches: readonly Touch[]): number {
  let count = 0;
  for (let i = 0; i < touches.length; i += 1) {
    for (let j = i + 1; j < touches.length; j += 1) {
      if (conflict(touches[i]!, touches[j]!).length === 0 && overlaps(touches[i]!, touches[j]!)) count += 1;
    }
  }
  return count;
}
