import { toolMessagesSinceLastUser, type Responder } from '@volley/scripted-model';
import type { BenchContext } from '../bench-context.ts';
import { median, nowMs } from '../stats.ts';
import { SLEEP_TOOL } from '../tool-functions.ts';

/**
 * The seed article's case: the model wants 3 slow lookups. Asked with parallel tool calls, it
 * asks for all 3 in one answer; with `parallel_tool_calls: false` it asks for one per answer,
 * as a real model does, so the sequential task costs 3 tool turns and a final answer.
 */
export function agentTurnResponder(tools: number, toolMs: number): Responder {
  return (request) => {
    const done = toolMessagesSinceLastUser(request.messages).length;
    const wanted = request.parallel_tool_calls === false ? Math.min(1, tools - done) : done === 0 ? tools : 0;
    if (wanted === 0) return { content: `All ${done} lookups are done.` };
    return { content: null, tool_calls: Array.from({ length: wanted }, () => ({ name: SLEEP_TOOL, arguments: { ms: toolMs } })) };
  };
}

export interface AgentRun {
  /** POST /v1/tasks to the first GET that shows it completed, as a client sees it. */
  wallMs: number;
  /** The task record's own updated_at − created_at: no polling granularity. */
  recordWallMs: number;
  llmCalls: number;
  promptTokens: number;
  completionTokens: number;
  toolCalls: number;
  /** Where the record's wall time went, in order; the segments add up to `recordWallMs`. */
  segments: Segment[];
}

export interface Segment {
  name: string;
  ms: number;
}

export interface AgentTurnMode {
  parallelToolCalls: boolean;
  idealMs: number;
  runs: AgentRun[];
  medianWallMs: number;
  medianRecordWallMs: number;
  /** Per segment, the median over the runs. */
  medianSegments: Segment[];
}

export interface AgentTurnResult {
  modelLatencyMs: number;
  toolMs: number;
  tools: number;
  parallel: AgentTurnMode;
  sequential: AgentTurnMode;
}

interface TurnBody {
  llm: { started_at: number; finished_at: number };
  tool_calls: Array<{ started_at: number | null; finished_at: number | null }>;
}

interface TaskBody {
  status: string;
  created_at: number;
  updated_at: number;
  turns: TurnBody[];
  usage: { prompt_tokens: number; completion_tokens: number; llm_calls: number; tool_calls: number };
  error?: unknown;
}

/** Issue 6 §3: Volley's agent task, parallel vs sequential, against the ideal 2L + T. */
export async function runAgentTurn(ctx: BenchContext): Promise<AgentTurnResult> {
  const { agentTurn } = ctx.settings;
  const L = agentTurn.modelLatencyMs;
  const T = agentTurn.toolMs;
  await ctx.volley.resizeWorkers(1);
  ctx.model.setResponder(agentTurnResponder(agentTurn.tools, T));
  ctx.model.setLatency(L);
  try {
    const mode = async (parallelToolCalls: boolean, runs: number, idealMs: number): Promise<AgentTurnMode> => {
      const results: AgentRun[] = [];
      for (let i = 0; i < runs; i += 1) results.push(await runTask(ctx, parallelToolCalls));
      const result = {
        parallelToolCalls,
        idealMs,
        runs: results,
        medianWallMs: median(results.map((run) => run.wallMs)),
        medianRecordWallMs: median(results.map((run) => run.recordWallMs)),
        medianSegments: results[0]!.segments.map((segment, index) => ({
          name: segment.name,
          ms: median(results.map((run) => run.segments[index]?.ms ?? Number.NaN)),
        })),
      };
      ctx.log(
        `agent turn ${parallelToolCalls ? 'parallel  ' : 'sequential'}: ${result.medianWallMs.toFixed(0)} ms (ideal ${idealMs} ms), ${results[0]!.llmCalls} LLM calls`,
      );
      return result;
    };
    return {
      modelLatencyMs: L,
      toolMs: T,
      tools: agentTurn.tools,
      parallel: await mode(true, agentTurn.parallelRuns, 2 * L + T),
      // One model answer per call, then the final one: (tools + 1) L + tools × T.
      sequential: await mode(false, agentTurn.sequentialRuns, (agentTurn.tools + 1) * L + agentTurn.tools * T),
    };
  } finally {
    ctx.model.setLatency(0);
  }
}

async function runTask(ctx: BenchContext, parallelToolCalls: boolean): Promise<AgentRun> {
  const started = nowMs();
  const created = await ctx.volley.api.post<{ id: string }>('/v1/tasks', {
    messages: [{ role: 'user', content: 'Look up the three slow things, then tell me when you are done.' }],
    tools: [SLEEP_TOOL],
    parallel_tool_calls: parallelToolCalls,
  });
  if (created.status !== 202) throw new Error(`POST /v1/tasks answered ${created.status}: ${JSON.stringify(created.body)}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { body } = await ctx.volley.api.get<TaskBody>(`/v1/tasks/${created.body.id}`);
    if (body.status === 'completed') {
      return {
        wallMs: nowMs() - started,
        recordWallMs: body.updated_at - body.created_at,
        llmCalls: body.usage.llm_calls,
        promptTokens: body.usage.prompt_tokens,
        completionTokens: body.usage.completion_tokens,
        toolCalls: body.usage.tool_calls,
        segments: segmentsOf(body),
      };
    }
    if (body.status === 'failed' || body.status === 'cancelled') throw new Error(`agent task ${body.status}: ${JSON.stringify(body.error)}`);
    if (Date.now() > deadline) throw new Error(`agent task ${created.body.id} still ${body.status} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, ctx.settings.agentTurn.pollMs));
  }
}

/**
 * The task record's timestamps (each process's Date.now(), one machine) cut into what the
 * ideal 2L + T leaves out: queueing before each model call, each call's own latency beyond
 * L, fanning out to the first tool start, the tools' span, and gathering back.
 */
export function segmentsOf(task: TaskBody): Segment[] {
  const segments: Segment[] = [];
  let cursor = task.created_at;
  const add = (name: string, until: number): void => {
    segments.push({ name, ms: until - cursor });
    cursor = until;
  };
  task.turns.forEach((turn, index) => {
    add(index === 0 ? 'task created → model call 1' : `tools done → model call ${index + 1}`, turn.llm.started_at);
    add(`model call ${index + 1}`, turn.llm.finished_at);
    const starts = turn.tool_calls.flatMap((call) => (call.started_at === null ? [] : [call.started_at]));
    const ends = turn.tool_calls.flatMap((call) => (call.finished_at === null ? [] : [call.finished_at]));
    if (starts.length === 0 || ends.length === 0) return;
    add(`model answer ${index + 1} → first tool starts`, Math.min(...starts));
    add(`tools of turn ${index + 1} (first start → last finish)`, Math.max(...ends));
  });
  add('final answer → task completed', task.updated_at);
  return segments;
}
