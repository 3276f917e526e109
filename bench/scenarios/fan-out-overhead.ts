import type { ToolCall } from '@volley/shared';
import { BareFlow, type BareCompletion } from '../bare-flow.ts';
import type { BenchContext } from '../bench-context.ts';
import { toolCalls, viaBareFlow, viaPromiseAll, viaVolley } from '../fan-out-paths.ts';
import { interleavedTurns } from '../load.ts';
import { summarize, type Summary } from '../stats.ts';
import { SLEEP_TOOL } from '../tool-functions.ts';

export type FanOutPath = 'promise-all' | 'bare-flow' | 'bare-flow-queue-events' | 'volley';

export interface OverheadRow {
  path: FanOutPath;
  calls: number;
  sleepMs: number;
  /** Wall time − T, in ms, over sequential turns (one in flight). */
  overhead: Summary;
}

/**
 * Issue 6 §1: the price of one fan-out. For every (N, T) the four paths take turns, one turn
 * each in rotating order, so a noisy moment of this shared 2-core machine hits all of them
 * alike instead of whichever path happened to be running.
 */
export async function runFanOutOverhead(ctx: BenchContext): Promise<OverheadRow[]> {
  const { overhead, parentConcurrency } = ctx.settings;
  await Promise.all([ctx.volley.resizeWorkers(1), ctx.bareWorkers.resize(1)]);
  const bare = new Map<BareCompletion, BareFlow>();
  try {
    for (const completion of ['worker-event', 'queue-events'] as const) {
      bare.set(completion, await BareFlow.start(ctx.redisUrl, { concurrency: parentConcurrency, completion }));
    }
    const paths: Record<FanOutPath, (calls: readonly ToolCall[]) => Promise<void>> = {
      'promise-all': viaPromiseAll,
      'bare-flow': (calls) => viaBareFlow(bare.get('worker-event')!, calls),
      'bare-flow-queue-events': (calls) => viaBareFlow(bare.get('queue-events')!, calls),
      volley: (calls) => viaVolley(ctx.volley.api, calls),
    };
    const rows: OverheadRow[] = [];
    for (const sleepMs of overhead.sleepsMs) {
      for (const count of overhead.fanOuts) {
        const calls = toolCalls(count, SLEEP_TOOL, sleepMs);
        const turns = Object.fromEntries(Object.entries(paths).map(([path, run]) => [path, () => run(calls)]));
        const samples = await interleavedTurns(turns, { warmup: overhead.warmup, count: overhead.turns });
        for (const path of Object.keys(paths) as FanOutPath[]) {
          const row = { path, calls: count, sleepMs, overhead: summarize(samples[path]!.map((wall) => wall - sleepMs)) };
          rows.push(row);
          ctx.log(
            `overhead ${path.padEnd(22)} N=${String(count).padStart(2)} T=${sleepMs} ms: p50 ${row.overhead.p50.toFixed(2)} ms, p99 ${row.overhead.p99.toFixed(2)} ms`,
          );
        }
      }
    }
    return rows;
  } finally {
    await Promise.allSettled([...bare.values()].map((flow) => flow.close()));
  }
}
