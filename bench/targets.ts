import { doorCost } from './scenarios/throughput.ts';
import type { BenchResults } from './report.ts';

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

/** Volley within 1.3× of the bare flow's p50 (issue 6). */
const P50_RATIO = 1.3;
const P99_LIMIT_MS = 20;
const THROUGHPUT_RATIO = 0.8;
const AGENT_SLACK = 0.05;
const TARGET_CALLS = 10;
/** A step at the end of a long task costs within 1.2× of one at its start (issue 15). */
const STEP_GROWTH = 1.2;
/** Issue 15: at 4 workers and 200 turns in flight, 0.9× the bare flow's calls/s, at most 1.3× its CPU per call. */
const SCALE_THROUGHPUT_RATIO = 0.9;
const SCALE_CPU_RATIO = 1.3;
const SCALE_WORKERS = 4;
const SCALE_IN_FLIGHT = 200;

/**
 * Issue 6's and 15's targets, checked against this run's own baseline numbers (never against
 * constants from elsewhere), for the scenarios that ran.
 */
export function checkTargets(results: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const overhead = results.overhead ?? [];
  const row = (path: string, sleepMs: number) => overhead.find((r) => r.path === path && r.calls === TARGET_CALLS && r.sleepMs === sleepMs);
  for (const sleepMs of [...new Set(overhead.map((r) => r.sleepMs))]) {
    const volley = row('volley', sleepMs);
    const bare = row('bare-flow', sleepMs);
    if (!volley || !bare) continue;
    const ratio = volley.overhead.p50 / bare.overhead.p50;
    checks.push({
      target: `overhead p50 at N=${TARGET_CALLS}, T=${sleepMs} ms ≤ ${P50_RATIO}× bare flow`,
      measured: `${volley.overhead.p50.toFixed(2)} ms vs ${bare.overhead.p50.toFixed(2)} ms = ${ratio.toFixed(2)}×`,
      met: ratio <= P50_RATIO,
    });
    checks.push({
      target: `overhead p99 at N=${TARGET_CALLS}, T=${sleepMs} ms < ${P99_LIMIT_MS} ms`,
      measured: `${volley.overhead.p99.toFixed(2)} ms`,
      met: volley.overhead.p99 < P99_LIMIT_MS,
    });
  }
  const throughput = results.throughput?.rows ?? [];
  for (const volley of throughput.filter((r) => r.path === 'volley')) {
    const bare = throughput.find((r) => r.path === 'bare-flow' && r.workers === volley.workers && r.inFlight === volley.inFlight);
    if (!bare) continue;
    const ratio = volley.callsPerSecond / bare.callsPerSecond;
    checks.push({
      target: `throughput ≥ ${THROUGHPUT_RATIO}× bare (${volley.workers} worker${volley.workers > 1 ? 's' : ''}, ${volley.inFlight} in flight)`,
      measured: `${volley.callsPerSecond.toFixed(0)} vs ${bare.callsPerSecond.toFixed(0)} calls/s = ${ratio.toFixed(2)}× (CPU per call: ${(bare.cpuMsPerCall / volley.cpuMsPerCall).toFixed(2)}×)`,
      // A round with nothing finished in its window says nothing; it must not pass as ∞×.
      met: bare.callsPerSecond > 0 && ratio >= THROUGHPUT_RATIO,
    });
    if (volley.workers !== SCALE_WORKERS || volley.inFlight !== SCALE_IN_FLIGHT) continue;
    checks.push({
      target: `throughput ≥ ${SCALE_THROUGHPUT_RATIO}× bare (${SCALE_WORKERS} workers, ${SCALE_IN_FLIGHT} in flight; issue 15)`,
      measured: `${ratio.toFixed(2)}×`,
      met: bare.callsPerSecond > 0 && ratio >= SCALE_THROUGHPUT_RATIO,
    });
    const cpuRatio = volley.cpuMsPerCall / bare.cpuMsPerCall;
    checks.push({
      target: `CPU per call ≤ ${SCALE_CPU_RATIO}× bare (${SCALE_WORKERS} workers, ${SCALE_IN_FLIGHT} in flight; issue 15)`,
      measured: `${volley.cpuMsPerCall.toFixed(3)} vs ${bare.cpuMsPerCall.toFixed(3)} ms = ${cpuRatio.toFixed(2)}×${lessDoor(results, volley.cpuMsPerCall, bare.cpuMsPerCall)}`,
      met: bare.cpuMsPerCall > 0 && cpuRatio <= SCALE_CPU_RATIO,
    });
  }
  if (results.agentTurn) {
    const { parallel } = results.agentTurn;
    const excess = parallel.medianWallMs / parallel.idealMs - 1;
    checks.push({
      target: `agent turn within ${AGENT_SLACK * 100}% of 2L + T = ${parallel.idealMs} ms`,
      measured: `${parallel.medianWallMs.toFixed(0)} ms (${excess >= 0 ? '+' : ''}${(excess * 100).toFixed(1)}%)`,
      met: excess <= AGENT_SLACK,
    });
  }
  if (results.stepCost) {
    const { first, last, turns } = results.stepCost;
    const growth = (what: string, unit: string, of: (step: typeof first) => number, digits: number) => {
      const ratio = of(last) / of(first);
      checks.push({
        target: `${what} per step at turn ${turns} ≤ ${STEP_GROWTH}× turn 1`,
        measured: `${of(first).toFixed(digits)} → ${of(last).toFixed(digits)} ${unit} = ${ratio.toFixed(2)}×`,
        met: ratio <= STEP_GROWTH,
      });
    };
    growth('bytes Redis received', 'KiB', (step) => step.bytesIn / 1024, 1);
    // Not the whole step's time: the model reading a prompt that grows with the transcript is not Volley's (see step-cost.ts).
    growth('time outside the model', 'ms', (step) => step.outsideModelMs, 1);
  }
  return checks;
}

/** The same ratio without the HTTP door's floor (see the throughput scenario), for the reader: the target counts the door. */
function lessDoor(results: Omit<BenchResults, 'targets'>, volleyCpu: number, bareCpu: number): string {
  const throughput = results.throughput;
  if (!throughput?.door || bareCpu === 0) return '';
  const door = doorCost(throughput).perCall;
  return `; less the HTTP door floor of ${door.toFixed(3)} ms: ${((volleyCpu - door) / bareCpu).toFixed(2)}×`;
}
