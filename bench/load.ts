import { nowMs } from './stats.ts';

/** One unit of work under test, e.g. one `POST /v1/tool-calls` fan-out and its answer. */
export type Turn = () => Promise<void>;

/**
 * Runs `count` turns one after another (one in flight), after `warmup` unrecorded ones that
 * let JIT, connection pools and Redis scripts settle. Returns each turn's wall time in ms.
 */
export async function sequentialTurns(turn: Turn, options: { warmup: number; count: number }): Promise<number[]> {
  for (let i = 0; i < options.warmup; i += 1) await turn();
  const samples: number[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const started = nowMs();
    await turn();
    samples.push(nowMs() - started);
  }
  return samples;
}

/**
 * Like `sequentialTurns` for several ways of doing the same thing at once: after each one's
 * warm-up, one turn of each per round, the order rotating every round, so drift and noisy
 * moments of the machine are shared fairly. Still one turn in flight at any time.
 */
export async function interleavedTurns(turns: Record<string, Turn>, options: { warmup: number; count: number }): Promise<Record<string, number[]>> {
  const names = Object.keys(turns);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) for (let i = 0; i < options.warmup; i += 1) await turns[name]!();
  for (let round = 0; round < options.count; round += 1) {
    for (let k = 0; k < names.length; k += 1) {
      const name = names[(round + k) % names.length]!;
      const started = nowMs();
      await turns[name]!();
      samples[name]!.push(nowMs() - started);
    }
  }
  return samples;
}

export interface ClosedLoopResult {
  /** Turns that finished inside the measured window. */
  turns: number;
  /** Every turn run, warm-up and stragglers included: the denominator for Redis command counts. */
  allTurns: number;
  seconds: number;
  turnsPerSecond: number;
  /**
   * Wall time of each turn that started inside the window, however late it finished: keeping
   * only turns that also ended inside it would drop the slowest ones.
   */
  latencies: number[];
}

/**
 * `concurrency` clients each start a new turn the moment their previous one ends, so exactly
 * that many turns are in flight. Only the window after `warmupMs` counts; turns still running
 * at its end are awaited (nothing is left behind for the next scenario) but not counted.
 */
export async function closedLoop(turn: Turn, options: { concurrency: number; warmupMs: number; durationMs: number }): Promise<ClosedLoopResult> {
  const started = nowMs();
  const windowStart = started + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  let turns = 0;
  let allTurns = 0;
  const latencies: number[] = [];
  const client = async (): Promise<void> => {
    while (nowMs() < windowEnd) {
      const begin = nowMs();
      await turn();
      const end = nowMs();
      allTurns += 1;
      if (end >= windowStart && end <= windowEnd) turns += 1;
      if (begin >= windowStart && begin <= windowEnd) latencies.push(end - begin);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  const seconds = options.durationMs / 1000;
  return { turns, allTurns, seconds, turnsPerSecond: turns / seconds, latencies };
}
