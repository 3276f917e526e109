import type { ToolCall } from '@volley/shared';
import { BareFlow } from '../bare-flow.ts';
import type { BenchContext } from '../bench-context.ts';
import { toolCalls, viaBareFlow, viaVolley } from '../fan-out-paths.ts';
import { closedLoop, sequentialTurns } from '../load.ts';
import { cpuDuring } from '../process-cpu.ts';
import { countCommands, idleCommandRate, perUnit, type CommandCounts } from '../redis-stats.ts';
import { summarize, type Summary } from '../stats.ts';
import { NOOP_TOOL } from '../tool-functions.ts';

type Path = 'volley' | 'bare-flow';

export interface CommandsRow {
  path: Path;
  calls: number;
  turns: number;
  /** All Redis commands (Lua-internal ones included) per tool call, idle background removed. */
  perCall: number;
  /** Script invocations (EVALSHA/EVAL) per tool call: Lua scripts are BullMQ's round trips. */
  scriptsPerCall: number;
  byCommandPerCall: CommandCounts;
  /** CPU ms per tool call of each process role, and their sum. */
  cpuMsPerCall: Record<string, number>;
  cpuMsPerCallTotal: number;
}

export interface ConcurrencyRow {
  path: Path;
  inFlight: number;
  turnsPerSecond: number;
  /** T = 0, so a turn's wall time is its overhead. */
  latency: Summary;
  commandsPerCall: number;
  cpuMsPerCallTotal: number;
}

export interface CostAtScaleResult {
  idleCommandsPerSecond: number;
  idleByCommand: CommandCounts;
  /** CPU % of one core each process role used over the idle window. */
  idleCpuPercent: Record<string, number>;
  commands: CommandsRow[];
  concurrency: ConcurrencyRow[];
}

const COMMAND_WARMUP = 10;

const perCall = (cpuMs: Record<string, number>, calls: number): Record<string, number> =>
  Object.fromEntries(Object.entries(cpuMs).map(([name, ms]) => [name, ms / calls]));
const sum = (values: Record<string, number>): number => Object.values(values).reduce((a, b) => a + b, 0);

/**
 * Issue 6 §4: what one tool call costs Redis as N grows, and what happens to overhead and
 * Redis work as turns in flight grow from 1 to 500. Counts are INFO commandstats deltas,
 * which see every client, so only the measured path runs during a window.
 */
export async function runCostAtScale(ctx: BenchContext): Promise<CostAtScaleResult> {
  const { scale, parentConcurrency } = ctx.settings;
  await Promise.all([ctx.volley.resizeWorkers(1), ctx.bareWorkers.resize(1)]);
  const bare = await BareFlow.start(ctx.redisUrl, { concurrency: parentConcurrency, completion: 'worker-event' });
  try {
    const run = (path: Path) => (calls: readonly ToolCall[]) => (path === 'volley' ? viaVolley(ctx.volley.api, calls) : viaBareFlow(bare, calls));
    const { value: idle, cpuMs: idleCpuMs } = await cpuDuring(ctx.processes(), () => idleCommandRate(ctx.redis, scale.idleWindowMs));
    // CPU share each role takes while nothing is asked of it (heartbeats, stalled checks, metrics).
    const idleCpuPercent = Object.fromEntries(Object.entries(idleCpuMs).map(([role, ms]) => [role, (ms / scale.idleWindowMs) * 100]));
    ctx.log(
      `cost idle background: ${idle.perSecond.toFixed(1)} Redis commands/s, CPU ${Object.entries(idleCpuPercent)
        .map(([r, p]) => `${r} ${p.toFixed(1)}%`)
        .join(', ')}`,
    );

    const commands: CommandsRow[] = [];
    for (const [size, turns] of Object.entries(scale.commandTurns).map(([n, t]) => [Number(n), t] as const)) {
      const calls = toolCalls(size, NOOP_TOOL, 0);
      for (const path of ['bare-flow', 'volley'] as const) {
        await sequentialTurns(() => run(path)(calls), { warmup: COMMAND_WARMUP, count: 0 });
        const { value: window, cpuMs } = await cpuDuring(ctx.processes(), () =>
          countCommands(ctx.redis, () => sequentialTurns(() => run(path)(calls), { warmup: 0, count: turns })),
        );
        const unit = perUnit(window, turns * size, idle.perSecond);
        const scripts = (window.byCommand.evalsha ?? 0) + (window.byCommand.eval ?? 0);
        const cpuMsPerCall = perCall(cpuMs, turns * size);
        const row = {
          path,
          calls: size,
          turns,
          perCall: unit.total,
          scriptsPerCall: scripts / (turns * size),
          byCommandPerCall: unit.byCommand,
          cpuMsPerCall,
          cpuMsPerCallTotal: sum(cpuMsPerCall),
        };
        commands.push(row);
        ctx.log(
          `cost ${path.padEnd(9)} N=${String(size).padStart(2)}: ${row.perCall.toFixed(1)} Redis commands per call, ${row.scriptsPerCall.toFixed(2)} scripts per call, ${row.cpuMsPerCallTotal.toFixed(2)} CPU ms per call`,
        );
      }
    }

    const concurrency: ConcurrencyRow[] = [];
    const calls = toolCalls(scale.callsPerTurn, NOOP_TOOL, 0);
    for (const inFlight of scale.inFlight) {
      for (const path of ['bare-flow', 'volley'] as const) {
        const { value: window, cpuMs } = await cpuDuring(ctx.processes(), () =>
          countCommands(ctx.redis, () =>
            closedLoop(() => run(path)(calls), {
              concurrency: inFlight,
              // The first turns of 500 in flight take seconds: the window opens once they are done.
              warmupMs: scale.warmupMs + inFlight * scale.warmupMsPerInFlight,
              durationMs: scale.durationMs,
            }),
          ),
        );
        const result = window.value;
        const row = {
          path,
          inFlight,
          turnsPerSecond: result.turnsPerSecond,
          latency: summarize(result.latencies),
          commandsPerCall: perUnit(window, result.allTurns * calls.length, idle.perSecond).total,
          cpuMsPerCallTotal: sum(perCall(cpuMs, result.allTurns * calls.length)),
        };
        concurrency.push(row);
        ctx.log(
          `scale ${path.padEnd(9)} in-flight=${String(inFlight).padStart(3)}: p50 ${row.latency.p50.toFixed(1)} ms, p99 ${row.latency.p99.toFixed(1)} ms, ${row.turnsPerSecond.toFixed(0)} turns/s, ${row.commandsPerCall.toFixed(1)} cmds/call, ${row.cpuMsPerCallTotal.toFixed(2)} CPU ms/call`,
        );
      }
    }
    return { idleCommandsPerSecond: idle.perSecond, idleByCommand: idle.byCommand, idleCpuPercent, commands, concurrency };
  } finally {
    await bare.close();
  }
}
