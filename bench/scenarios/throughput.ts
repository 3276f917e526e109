import { measureDrain, type DrainResult } from '../bare-drain.ts';
import { BareFlow } from '../bare-flow.ts';
import type { BenchContext } from '../bench-context.ts';
import { cpuDuring } from '../process-cpu.ts';
import { toolCalls, viaBareFlow, viaVolley } from '../fan-out-paths.ts';
import { closedLoop, type ClosedLoopResult, type Turn } from '../load.ts';
import { median, summarize, type Summary } from '../stats.ts';
import { NOOP_TOOL } from '../tool-functions.ts';

export interface ThroughputRow {
  path: 'volley' | 'bare-flow';
  workers: number;
  inFlight: number;
  /** Median over the rounds. */
  turnsPerSecond: number;
  callsPerSecond: number;
  roundsTurnsPerSecond: number[];
  /**
   * CPU ms per call summed over every process (median over the rounds): what bounds calls/s
   * on a saturated machine, and less sensitive than calls/s to other load on it.
   */
  cpuMsPerCall: number;
  /** Turn wall time over every round. */
  latency: Summary;
}

/**
 * What Volley's HTTP door costs alone: `GET /healthz` (no Redis, no body) in a closed loop with
 * as many requests in flight as the largest turn count. A floor under the door's share of a
 * `POST /v1/tool-calls` turn, which the bare flow has no counterpart of.
 */
export interface DoorFloor {
  inFlight: number;
  requestsPerSecond: number;
  /** CPU ms per request, orchestrator and client (the bench process), median over the rounds. */
  cpuMsPerRequest: { orchestrator: number; client: number };
}

/** The door floor's CPU per request (orchestrator and client), and per call of a turn of the rows. */
export function doorCost(result: Pick<ThroughputResult, 'door' | 'callsPerTurn'>): { perRequest: number; perCall: number } {
  const perRequest = result.door.cpuMsPerRequest.orchestrator + result.door.cpuMsPerRequest.client;
  return { perRequest, perCall: perRequest / result.callsPerTurn };
}

export interface ThroughputResult {
  /** Calls in each turn of every row. */
  callsPerTurn: number;
  rows: ThroughputRow[];
  door: DoorFloor;
  /** The fastest of `drains`. */
  drain: DrainResult;
  drains: DrainResult[];
}

/**
 * Issue 6 §2: how many fan-outs per second with many in flight, no-op tools, for each number of
 * worker processes; the bare flow with the same workers and in-flight count is the ceiling,
 * and a plain queue drain is the ceiling of BullMQ jobs on this Redis.
 */
export async function runThroughput(ctx: BenchContext): Promise<ThroughputResult> {
  const { throughput, parentConcurrency, workerConcurrency } = ctx.settings;
  const calls = toolCalls(throughput.callsPerTurn, NOOP_TOOL, 0);
  const bare = await BareFlow.start(ctx.redisUrl, { concurrency: parentConcurrency, completion: 'worker-event' });
  const rows: ThroughputRow[] = [];
  try {
    for (const workers of throughput.workerCounts) {
      await Promise.all([ctx.volley.resizeWorkers(workers), ctx.bareWorkers.resize(workers)]);
      for (const inFlight of throughput.inFlight) {
        const paths: Array<[ThroughputRow['path'], Turn]> = [
          ['bare-flow', () => viaBareFlow(bare, calls)],
          ['volley', () => viaVolley(ctx.volley.api, calls)],
        ];
        // Short rounds, alternating and rotating, each path's median kept: one slow stretch of
        // this shared machine then costs one round of one path, not the whole row.
        const rounds = new Map<ThroughputRow['path'], Array<ClosedLoopResult & { cpuMsPerCall: number }>>(paths.map(([path]) => [path, []]));
        for (let round = 0; round < throughput.rounds; round += 1) {
          for (let k = 0; k < paths.length; k += 1) {
            const [path, turn] = paths[(round + k) % paths.length]!;
            const { value: result, cpuMs } = await cpuDuring(ctx.processes(), () =>
              closedLoop(turn, {
                concurrency: inFlight,
                warmupMs: throughput.warmupMs + inFlight * throughput.warmupMsPerInFlight,
                durationMs: throughput.durationMs,
              }),
            );
            const cpuMsPerCall = Object.values(cpuMs).reduce((a, b) => a + b, 0) / (result.allTurns * calls.length);
            rounds.get(path)!.push({ ...result, cpuMsPerCall });
          }
        }
        for (const [path, results] of rounds) {
          const perSecond = results.map((result) => result.turnsPerSecond);
          const turnsPerSecond = median(perSecond);
          const row = {
            path,
            workers,
            inFlight,
            turnsPerSecond,
            callsPerSecond: turnsPerSecond * calls.length,
            roundsTurnsPerSecond: perSecond,
            cpuMsPerCall: median(results.map((result) => result.cpuMsPerCall)),
            latency: summarize(results.flatMap((result) => result.latencies)),
          };
          rows.push(row);
          ctx.log(
            `throughput ${path.padEnd(9)} workers=${workers} in-flight=${String(inFlight).padStart(3)}: ${row.turnsPerSecond.toFixed(0)} turns/s, ${row.callsPerSecond.toFixed(0)} calls/s (rounds: ${perSecond.map((v) => v.toFixed(0)).join(', ')}), ${row.cpuMsPerCall.toFixed(3)} CPU ms/call`,
          );
        }
      }
    }
  } finally {
    await bare.close();
  }
  await Promise.all([ctx.volley.resizeWorkers(1), ctx.bareWorkers.resize(1)]);
  const door = await measureDoorFloor(ctx);
  ctx.log(
    `throughput HTTP door floor (GET /healthz, ${door.inFlight} in flight): ${door.requestsPerSecond.toFixed(0)} requests/s, CPU ms per request orchestrator ${door.cpuMsPerRequest.orchestrator.toFixed(3)}, client ${door.cpuMsPerRequest.client.toFixed(3)}`,
  );
  // A ceiling: the best of a few drains, since a neighbour's burst can only slow one down.
  const drains: DrainResult[] = [];
  for (let i = 0; i < throughput.drainRepeats; i += 1) {
    drains.push(await measureDrain(ctx.redisUrl, { jobs: throughput.drainJobs, concurrency: workerConcurrency }));
  }
  const drain = drains.reduce((best, next) => (next.jobsPerSecond > best.jobsPerSecond ? next : best));
  ctx.log(`throughput bare drain: ${drains.map((d) => d.jobsPerSecond.toFixed(0)).join(', ')} no-op jobs/s (${throughput.drainJobs} jobs each)`);
  return { callsPerTurn: calls.length, rows, door, drain, drains };
}

async function measureDoorFloor(ctx: BenchContext): Promise<DoorFloor> {
  const { throughput } = ctx.settings;
  const inFlight = Math.max(...throughput.inFlight);
  const probe = async (): Promise<void> => {
    const answer = await ctx.volley.api.get<{ status: string }>('/healthz');
    if (answer.status !== 200) throw new Error(`GET /healthz answered ${answer.status}`);
  };
  const rounds: Array<{ perSecond: number; orchestrator: number; client: number }> = [];
  for (let round = 0; round < throughput.rounds; round += 1) {
    const { value: result, cpuMs } = await cpuDuring(ctx.processes(), () =>
      closedLoop(probe, { concurrency: inFlight, warmupMs: throughput.warmupMs, durationMs: throughput.durationMs }),
    );
    rounds.push({ perSecond: result.turnsPerSecond, orchestrator: cpuMs.orchestrator! / result.allTurns, client: cpuMs.bench! / result.allTurns });
  }
  return {
    inFlight,
    requestsPerSecond: median(rounds.map((round) => round.perSecond)),
    cpuMsPerRequest: { orchestrator: median(rounds.map((round) => round.orchestrator)), client: median(rounds.map((round) => round.client)) },
  };
}
