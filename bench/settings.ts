/**
 * Every knob of one `npm run bench`, in one place so the report can print what was run.
 * Sized to finish in well under 10 minutes on a 2-core machine; `--quick` shrinks everything
 * for a smoke run of the harness itself (its numbers are not results).
 */
export interface BenchSettings {
  /** Tool-call slots per worker process, Volley's and the bare baseline's alike. ≥ 50 so N = 50 never queues. */
  workerConcurrency: number;
  /** Parent (fan-in) jobs the bare baseline processes at once: Volley's orchestrator default. */
  parentConcurrency: number;
  overhead: { fanOuts: number[]; sleepsMs: number[]; warmup: number; turns: number };
  throughput: {
    workerCounts: number[];
    inFlight: number[];
    callsPerTurn: number;
    rounds: number;
    warmupMs: number;
    /** Added to the warm-up per turn in flight, so the window opens after the first turns are back. */
    warmupMsPerInFlight: number;
    durationMs: number;
    drainJobs: number;
    drainRepeats: number;
  };
  agentTurn: { modelLatencyMs: number; toolMs: number; tools: number; parallelRuns: number; sequentialRuns: number; pollMs: number };
  scale: {
    idleWindowMs: number;
    /** Sequential turns counted with INFO commandstats, per fan-out size. */
    commandTurns: Record<number, number>;
    inFlight: number[];
    callsPerTurn: number;
    warmupMs: number;
    /** Added to the warm-up per turn in flight. */
    warmupMsPerInFlight: number;
    durationMs: number;
  };
  stepCost: {
    /** Turns with a tool call before the final answer: the steps measured. */
    turns: number;
    resultBytes: number;
    repeats: number;
    /** Steps at each end whose median is the "first" and "last" step. */
    window: number;
    idleWindowMs: number;
  };
}

export const FULL: BenchSettings = {
  workerConcurrency: 64,
  parentConcurrency: 64,
  overhead: { fanOuts: [1, 3, 10, 50], sleepsMs: [0, 20], warmup: 20, turns: 250 },
  throughput: {
    workerCounts: [1, 2, 4],
    inFlight: [50, 200],
    callsPerTurn: 5,
    rounds: 3,
    warmupMs: 500,
    warmupMsPerInFlight: 3,
    durationMs: 2_000,
    drainJobs: 10_000,
    drainRepeats: 3,
  },
  agentTurn: { modelLatencyMs: 200, toolMs: 1_000, tools: 3, parallelRuns: 5, sequentialRuns: 3, pollMs: 5 },
  scale: {
    idleWindowMs: 2_000,
    commandTurns: { 1: 200, 10: 100, 50: 30 },
    inFlight: [1, 50, 500],
    callsPerTurn: 5,
    warmupMs: 1_000,
    warmupMsPerInFlight: 12,
    durationMs: 3_000,
  },
  stepCost: { turns: 50, resultBytes: 10_240, repeats: 10, window: 5, idleWindowMs: 1_000 },
};

export const QUICK: BenchSettings = {
  ...FULL,
  overhead: { ...FULL.overhead, warmup: 5, turns: 20 },
  throughput: { ...FULL.throughput, workerCounts: [1, 2], rounds: 1, warmupMs: 300, durationMs: 700, drainJobs: 2_000, drainRepeats: 1 },
  agentTurn: { ...FULL.agentTurn, parallelRuns: 1, sequentialRuns: 1 },
  scale: { ...FULL.scale, idleWindowMs: 500, commandTurns: { 1: 20, 10: 10, 50: 5 }, warmupMs: 300, durationMs: 700 },
  stepCost: { ...FULL.stepCost, turns: 10, repeats: 1, idleWindowMs: 300 },
};
