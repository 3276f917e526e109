import { randomUUID } from 'node:crypto';
import type { Responder } from '@volley/scripted-model';
import type { BenchContext } from '../bench-context.ts';
import { inputBytes } from '../redis-stats.ts';
import { median, nowMs } from '../stats.ts';
import { BLOB_TOOL } from '../tool-functions.ts';

/** One step of a task: from one model request to the next (record the answer, fan out, run the call, gather, read, ask again). */
export interface StepSample {
  /** 1-based: step k starts at the task's k-th model request. */
  step: number;
  /** Bytes Redis received from every client during the step, idle background removed. */
  bytesIn: number;
  ms: number;
  /**
   * The step's time outside the model server: from its answer until the next request's body has
   * arrived whole (so its upload counts, however the client paces headers and body). The rest
   * is the model reading its prompt, which grows with the transcript (as a real model's does,
   * far more): the scripted model parses, validates and counts the whole request.
   */
  outsideModelMs: number;
}

type StepCost = Pick<StepSample, 'bytesIn' | 'ms' | 'outsideModelMs'>;

export interface StepCostResult {
  turns: number;
  resultBytes: number;
  repeats: number;
  /** `first` and `last` are the median over this many steps at each end, of every repeat. */
  window: number;
  idleBytesPerSecond: number;
  /** Per step, the median over the repeats. */
  steps: StepSample[];
  first: StepCost;
  last: StepCost;
}

/** A task of the scenario, by its question: how many turns it runs, and what its steps took. */
interface Run {
  turns: number;
  taken: Array<{ bytes: number; at: number }>;
}

/**
 * A task first, unmeasured: the first use of each Lua script sends its source, once per process,
 * and the first steps of a fresh process run cold code. Long enough that the measured turn 1 is
 * a warm step, as turn 50 is.
 */
const WARMUP_TURNS = 20;

/**
 * A model that asks for one `blob` call per answer until the task has its turns' results, then
 * answers. Each request it receives is the start of a step: it reads Redis's input byte counter
 * and the clock there, so the difference between two requests is what one step cost.
 */
function stepCostResponder(ctx: BenchContext, resultBytes: number, runs: Map<string, Run>): Responder {
  return async (request) => {
    const run = runs.get(String(request.messages.find((m) => m.role === 'user')?.content ?? ''));
    if (!run) return { content: 'not a step-cost task' };
    run.taken.push({ bytes: await inputBytes(ctx.redis), at: nowMs() });
    const results = request.messages.filter((m) => m.role === 'tool').length;
    if (results >= run.turns) return { content: `All ${results} results read.` };
    return { content: null, tool_calls: [{ name: BLOB_TOOL, arguments: { bytes: resultBytes } }] };
  };
}

/**
 * Issue 15: what one step of a task costs Redis (bytes received) and time, at its first turns
 * and at its last, in a task whose every turn adds a large tool result. A store that rewrites
 * the transcript at every step costs more per step as the task grows; an append-only one does not.
 */
export async function runStepCost(ctx: BenchContext): Promise<StepCostResult> {
  const { turns, resultBytes, repeats, window, idleWindowMs } = ctx.settings.stepCost;
  await ctx.volley.resizeWorkers(1);
  const runs = new Map<string, Run>();
  ctx.model.setResponder(stepCostResponder(ctx, resultBytes, runs));
  ctx.model.setLatency(0);
  // Idle processes still talk to Redis (heartbeats, blocking reads that time out, stalled checks).
  const idleFrom = { bytes: await inputBytes(ctx.redis), at: nowMs() };
  await new Promise((resolve) => setTimeout(resolve, idleWindowMs));
  const idleBytesPerSecond = ((await inputBytes(ctx.redis)) - idleFrom.bytes) / ((nowMs() - idleFrom.at) / 1000);
  const measure = async (taskTurns: number): Promise<StepSample[]> => {
    const question = `step-cost ${randomUUID()}`;
    const run: Run = { turns: taskTurns, taken: [] };
    runs.set(question, run);
    await runTask(ctx, question, taskTurns + 1);
    const { taken } = run;
    const asked = ctx.model.requests.filter((request) => request.body.messages.find((m) => m.role === 'user')?.content === question);
    if (taken.length !== taskTurns + 1 || asked.length !== taskTurns + 1) {
      throw new Error(`step-cost task asked the model ${taken.length} times (${asked.length} answered), not ${taskTurns + 1}`);
    }
    return taken.slice(1).map((sample, index) => {
      const ms = sample.at - taken[index]!.at;
      return {
        step: index + 1,
        ms,
        outsideModelMs: asked[index + 1]!.bodyReadAt - asked[index]!.answeredAt,
        bytesIn: sample.bytes - taken[index]!.bytes - (idleBytesPerSecond * ms) / 1000,
      };
    });
  };
  await measure(WARMUP_TURNS);

  const measured: StepSample[][] = [];
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    const steps = await measure(turns);
    measured.push(steps);
    ctx.log(`step cost run ${repeat + 1}: step 1 ${describe(steps[0]!)}, step ${turns} ${describe(steps[turns - 1]!)}`);
  }
  const medians = (samples: readonly StepSample[]): StepCost => ({
    bytesIn: median(samples.map((sample) => sample.bytesIn)),
    ms: median(samples.map((sample) => sample.ms)),
    outsideModelMs: median(samples.map((sample) => sample.outsideModelMs)),
  });
  const steps = measured[0]!.map((_, index) => ({ step: index + 1, ...medians(measured.map((run) => run[index]!)) }));
  const atEnd = (from: number) => medians(measured.flatMap((run) => run.slice(from, from + window)));
  return { turns, resultBytes, repeats, window, idleBytesPerSecond, steps, first: atEnd(0), last: atEnd(turns - window) };
}

const describe = (sample: StepSample) =>
  `${(sample.bytesIn / 1024).toFixed(1)} KiB, ${sample.ms.toFixed(1)} ms (${sample.outsideModelMs.toFixed(0)} ms outside the model)`;

/** Creates the task and waits for its end through `wait_ms` (a blocking read: no polls adding to Redis's input). */
async function runTask(ctx: BenchContext, question: string, maxTurns: number): Promise<void> {
  const created = await ctx.volley.api.post<{ id: string }>('/v1/tasks', {
    messages: [{ role: 'user', content: question }],
    tools: [BLOB_TOOL],
    max_turns: maxTurns,
  });
  if (created.status !== 202) throw new Error(`POST /v1/tasks answered ${created.status}: ${JSON.stringify(created.body)}`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    const { body } = await ctx.volley.api.get<{ status: string; error?: unknown }>(`/v1/tasks/${created.body.id}?wait_ms=60000`);
    if (body.status === 'completed') return;
    if (body.status === 'failed' || body.status === 'cancelled') throw new Error(`step-cost task ${body.status}: ${JSON.stringify(body.error)}`);
    if (Date.now() > deadline) throw new Error(`step-cost task ${created.body.id} still ${body.status} after 300 s`);
  }
}
