/**
 * What the fault fixtures (fixtures/fault-tools.ts) record of every tool body that ran, and the
 * checks made on it: which bodies held a resource at once, and whether that was an engine fault
 * or a stale holder that fencing shut out.
 */

/** The list every body run is appended to, one `enter` and (unless it died) one `exit` record. */
export const BODIES_KEY = 'test:fault:bodies';
/** The fixture's fenced store: `w:<resource>` the highest write token seen, `a:<resource>` the highest of any. */
export const FENCES_KEY = 'test:fault:fences';

/** A resource a body held, with the token it held it by (0: none, so nothing fences it). */
export interface Fence {
  key: string;
  mode: 'read' | 'write';
  token: number;
}

interface BodyRecordBase {
  run: string;
  label: string;
  task: string;
  toolCallId: string;
  worker: string;
  attempt: number;
  fences: Fence[];
  at: number;
  /** The fenced store's verdict on this step. */
  accepted: boolean;
}
export type BodyRecord = (BodyRecordBase & { phase: 'enter' }) | (BodyRecordBase & { phase: 'exit'; aborted: boolean; signalled: boolean });

/** A window during which something stood still: a SIGSTOPped process, or the frozen Redis (`who: 'redis'`). */
export interface Stall {
  who: string;
  from: number;
  to: number;
}

/** One run of a tool body, from its records and what the test did to the processes. */
export interface BodyRun {
  run: string;
  label: string;
  task: string;
  toolCallId: string;
  worker: string;
  attempt: number;
  fences: Fence[];
  enter: number;
  /** When it left: its exit record, else the moment its worker was SIGKILLed, else unknown (Infinity). */
  exit: number;
  /** How it ended. */
  end: 'exited' | 'killed' | 'vanished';
  /** The fenced store accepted its leave: its effect counts. False when refused or when it never left. */
  committed: boolean;
  aborted: boolean;
  /** When it ran, less the windows its worker was paused: a stopped body does nothing. */
  active: Array<[number, number]>;
  /** Its worker was paused, or Redis frozen, while it ran: it may have lost its lease through no fault of the engine. */
  stalled: boolean;
}

/** Timestamps come from different processes' clocks on one host: allow their rounding, not overlap. */
const TOLERANCE_MS = 1;

export function bodyRuns(records: readonly BodyRecord[], kills: ReadonlyMap<string, number>, stalls: readonly Stall[]): BodyRun[] {
  const enters = new Map<string, BodyRecord>();
  const exits = new Map<string, Extract<BodyRecord, { phase: 'exit' }>>();
  for (const record of records) {
    if (record.phase === 'enter') enters.set(record.run, record);
    else exits.set(record.run, record);
  }
  return [...enters.values()].map((enter) => {
    const exit = exits.get(enter.run);
    const killedAt = kills.get(enter.worker);
    const end = exit ? 'exited' : killedAt !== undefined && killedAt >= enter.at ? 'killed' : 'vanished';
    const leftAt = exit?.at ?? (end === 'killed' ? killedAt! : Number.POSITIVE_INFINITY);
    const own = stalls.filter((stall) => stall.who === enter.worker);
    const during = (stall: Stall) => stall.from < leftAt && stall.to > enter.at;
    return {
      run: enter.run,
      label: enter.label,
      task: enter.task,
      toolCallId: enter.toolCallId,
      worker: enter.worker,
      attempt: enter.attempt,
      fences: enter.fences,
      enter: enter.at,
      exit: leftAt,
      end,
      committed: exit?.accepted ?? false,
      aborted: exit?.aborted ?? false,
      active: subtract([enter.at, leftAt], own),
      stalled: stalls.some((stall) => (stall.who === enter.worker || stall.who === 'redis') && during(stall)),
    };
  });
}

function subtract(span: [number, number], stalls: readonly Stall[]): Array<[number, number]> {
  let parts: Array<[number, number]> = [span];
  for (const stall of stalls) {
    parts = parts.flatMap(([from, to]): Array<[number, number]> => {
      if (stall.to <= from || stall.from >= to) return [[from, to]];
      return [...(stall.from > from ? [[from, stall.from] as [number, number]] : []), ...(stall.to < to ? [[stall.to, to] as [number, number]] : [])];
    });
  }
  return parts;
}

/** How long two bodies were both active (not paused) at once. */
export function activeOverlapMs(a: BodyRun, b: BodyRun): number {
  let total = 0;
  for (const [af, at] of a.active) for (const [bf, bt] of b.active) total += Math.max(0, Math.min(at, bt) - Math.max(af, bf));
  return total;
}

export const wallOverlap = (a: BodyRun, b: BodyRun) => a.enter < b.exit - TOLERANCE_MS && b.enter < a.exit - TOLERANCE_MS;

export interface Overlap {
  key: string;
  a: BodyRun;
  b: BodyRun;
  /** The active overlap was a stale holder fenced out: see `overlapsOn`. */
  fenced: boolean;
  activeMs: number;
}

type Holding = { run: BodyRun; fence: Fence };

function holdersByKey(runs: readonly BodyRun[]): Map<string, Holding[]> {
  const byKey = new Map<string, Holding[]>();
  for (const run of runs) {
    for (const fence of run.fences) {
      const list = byKey.get(fence.key) ?? [];
      list.push({ run, fence });
      byKey.set(fence.key, list);
    }
  }
  for (const holders of byKey.values()) holders.sort((x, y) => x.run.enter - y.run.enter);
  return byKey;
}

/** Each pair of bodies holding one resource, at least one writing, whose wall-clock spans crossed. */
function crossingPairs(runs: readonly BodyRun[]): Array<{ key: string; x: Holding; y: Holding }> {
  const pairs: Array<{ key: string; x: Holding; y: Holding }> = [];
  for (const [key, holders] of holdersByKey(runs)) {
    for (let i = 0; i < holders.length; i += 1) {
      for (let j = i + 1; j < holders.length; j += 1) {
        const [x, y] = [holders[i]!, holders[j]!];
        if (y.run.enter >= x.run.exit - TOLERANCE_MS) continue;
        if (x.fence.mode === 'read' && y.fence.mode === 'read') continue;
        if (wallOverlap(x.run, y.run)) pairs.push({ key, x, y });
      }
    }
  }
  return pairs;
}

/**
 * Pairs of bodies that held one resource at once (at least one writing) while both were
 * active. Such a pair is `fenced` — the guarantee held, as the README words it for a holder that
 * lost its lease — only when the one with the lower token on that resource is the stale one (its
 * worker was paused, or Redis frozen, while it ran) and its late leave was refused by the fenced
 * store (or it never left: killed). Anything else is two live holders at once.
 */
export function overlapsOn(runs: readonly BodyRun[]): Overlap[] {
  return crossingPairs(runs).flatMap(({ key, x, y }) => {
    const activeMs = activeOverlapMs(x.run, y.run);
    if (activeMs <= TOLERANCE_MS) return [];
    const lower = x.fence.token === y.fence.token ? undefined : x.fence.token < y.fence.token ? x : y;
    const fenced = lower !== undefined && lower.fence.token > 0 && lower.run.stalled && !lower.run.committed;
    return [{ key, a: x.run, b: y.run, fenced, activeMs }];
  });
}

/** Conflicting pairs whose wall-clock spans crossed at all (pauses included): the raw figure. */
export function wallOverlapCount(runs: readonly BodyRun[]): number {
  return crossingPairs(runs).length;
}

const shortRun = (run: BodyRun) =>
  `${run.label}#${run.attempt}@${run.worker} of ${run.task} [${Math.round(run.enter)}→${Number.isFinite(run.exit) ? Math.round(run.exit) : '∞'}] ` +
  `${run.end}${run.aborted ? ',aborted' : ''}${run.stalled ? ',stalled' : ''}${run.committed ? ',committed' : ',not-committed'} ` +
  `tokens ${run.fences.map((f) => `${f.key}=${f.mode[0]}${f.token}`).join(' ')}`;

export function describeOverlap(overlap: Overlap): string {
  return `${overlap.key}: ${Math.round(overlap.activeMs)} ms both active\n    ${shortRun(overlap.a)}\n    ${shortRun(overlap.b)}`;
}
