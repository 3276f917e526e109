import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessMemory } from './process-memory.ts';
import type { AgentTurnResult } from './scenarios/agent-turn.ts';
import type { CostAtScaleResult } from './scenarios/cost-at-scale.ts';
import type { FanOutPath, OverheadRow } from './scenarios/fan-out-overhead.ts';
import type { StepCostResult } from './scenarios/step-cost.ts';
import { doorCost, type ThroughputResult } from './scenarios/throughput.ts';
import type { BenchSettings } from './settings.ts';
import type { Summary } from './stats.ts';
import type { TargetCheck } from './targets.ts';

export interface BenchMeta {
  startedAt: string;
  runtimeSeconds: number;
  quick: boolean;
  /** The scenarios `--only` chose; absent when every scenario ran. */
  only?: string[];
  code: { commit: string; uncommittedFiles: number };
  node: string;
  bullmq: string;
  redis: { version: string; backend: string };
  cpus: number;
  cpuModel: string;
  /** 1, 5 and 15-minute load averages, as os.loadavg() reads them. */
  loadAverage: { atStart: number[]; atEnd: number[] };
  /** CPU other processes on the machine took during each scenario, % of one core. */
  foreignCpuPercent: Record<string, number>;
  settings: BenchSettings;
}

/** Everything one run measured: `latest.json` is this object, `latest.md` its rendering. A scenario `--only` left out is absent. */
export interface BenchResults {
  meta: BenchMeta;
  overhead?: OverheadRow[];
  throughput?: ThroughputResult;
  agentTurn?: AgentTurnResult;
  cost?: CostAtScaleResult;
  stepCost?: StepCostResult;
  /** After the runs; `rssAtStartMiB` is null for a process started mid-run. */
  memory: Array<ProcessMemory & { rssAtStartMiB: number | null }>;
  processStderr: Array<{ name: string; tail: string }>;
  targets: TargetCheck[];
}

/** Writes `<name>.json` and `<name>.md` into `dir`. */
export async function writeResults(dir: string, name: string, results: BenchResults): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${name}.json`);
  const markdown = join(dir, `${name}.md`);
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(markdown, renderMarkdown(results));
  return { json, markdown };
}

const ms = (value: number): string => (Number.isNaN(value) ? '–' : value < 10 ? value.toFixed(2) : value.toFixed(1));
const pcts = (s: Summary): string => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const table = (head: string[], rows: string[][]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');

export function renderMarkdown(results: BenchResults): string {
  const { meta } = results;
  const sections = [
    `# Volley benchmark${meta.quick ? ' (QUICK smoke run: not results)' : ''}${meta.only ? ` (only ${meta.only.join(', ')})` : ''}`,
    `${meta.startedAt} · ${meta.runtimeSeconds.toFixed(0)} s in all · commit ${meta.code.commit}${meta.code.uncommittedFiles ? ` + ${meta.code.uncommittedFiles} uncommitted files in apps/ and packages/` : ''} · Node ${meta.node} · BullMQ ${meta.bullmq} · Redis ${meta.redis.version} (${meta.redis.backend}, loopback) · ${meta.cpus} × ${meta.cpuModel} · load average at start ${meta.loadAverage.atStart.map((l) => l.toFixed(2)).join(' ')}`,
    renderForeignLoad(meta.foreignCpuPercent),
    renderTargets(results.targets),
    ...(results.overhead ? [renderOverhead(results.overhead, meta.settings)] : []),
    ...(results.throughput ? [renderThroughput(results.throughput, meta.settings.workerConcurrency, meta.settings.throughput.rounds)] : []),
    ...(results.agentTurn ? [renderAgentTurn(results.agentTurn)] : []),
    ...(results.cost ? [renderCost(results.cost)] : []),
    ...(results.stepCost ? [renderStepCost(results.stepCost)] : []),
    renderMemory(results.memory),
    ...results.processStderr.map((entry) => `### stderr of ${entry.name}\n\n\`\`\`\n${entry.tail.trim()}\n\`\`\``),
  ];
  return `${sections.join('\n\n')}\n`;
}

/** A busy neighbour on 2 cores skews everything; say so where the numbers are read. */
const BUSY_NEIGHBOUR_PERCENT = 10;

function renderForeignLoad(foreign: Record<string, number>): string {
  const shares = Object.entries(foreign)
    .map(([name, percent]) => `${name} ${percent.toFixed(0)}%`)
    .join(', ');
  const busy = Object.values(foreign).some((percent) => percent > BUSY_NEIGHBOUR_PERCENT);
  return busy
    ? `**Warning: other processes on this machine were busy during the run** (CPU they took, % of one core: ${shares}). Numbers from the busy scenarios are skewed; run again on a quiet machine.`
    : `Other processes on this machine took little CPU during the run (% of one core: ${shares}).`;
}

function renderTargets(targets: TargetCheck[]): string {
  return [
    '## Targets (issues 6 and 15)',
    table(
      ['target', 'measured', 'met'],
      targets.map((t) => [t.target, t.measured, t.met ? 'yes' : '**no**']),
    ),
  ].join('\n\n');
}

const PATH_LABEL: Record<FanOutPath, string> = {
  'promise-all': 'in-process Promise.all',
  'bare-flow': 'bare flow',
  'bare-flow-queue-events': 'bare flow + QueueEvents',
  volley: 'Volley HTTP',
};

function renderOverhead(measured: OverheadRow[], settings: BenchSettings): string {
  const { overhead } = settings;
  const paths = Object.keys(PATH_LABEL) as FanOutPath[];
  const rows = overhead.sleepsMs.flatMap((sleepMs) =>
    overhead.fanOuts.map((calls) => {
      const find = (path: FanOutPath) => measured.find((r) => r.path === path && r.calls === calls && r.sleepMs === sleepMs);
      const volley = find('volley');
      const bare = find('bare-flow');
      const ratio = volley && bare ? `${(volley.overhead.p50 / bare.overhead.p50).toFixed(2)}×` : '–';
      return [String(calls), String(sleepMs), ...paths.map((path) => (find(path) ? pcts(find(path)!.overhead) : '–')), ratio];
    }),
  );
  return [
    '## 1. Fan-out overhead',
    `Wall time − T in ms, p50 / p95 / p99 over ${overhead.turns} sequential turns (one in flight) after ${overhead.warmup} warm-up turns each. ` +
      'Bare flow: FlowProducer + Worker, no Volley code, children in another process, parent completion seen by its Worker in the bench process (direct signal). ' +
      '"+ QueueEvents": the same flow awaited with `job.waitUntilFinished(queueEvents)`, the way BullMQ documents awaiting a flow from another process (as Volley’s fan-outs did before each orchestrator got an inbox).',
    table(['N', 'T ms', ...paths.map((path) => PATH_LABEL[path]), 'Volley ÷ bare p50'], rows),
  ].join('\n\n');
}

function renderThroughput(result: ThroughputResult, concurrency: number, rounds: number): string {
  const volleyRows = result.rows.filter((r) => r.path === 'volley');
  const rows = volleyRows.map((volley) => {
    const bare = result.rows.find((r) => r.path === 'bare-flow' && r.workers === volley.workers && r.inFlight === volley.inFlight)!;
    return [
      String(volley.workers),
      String(volley.inFlight),
      int(bare.turnsPerSecond),
      int(bare.callsPerSecond),
      int(volley.turnsPerSecond),
      int(volley.callsPerSecond),
      `${(volley.callsPerSecond / bare.callsPerSecond).toFixed(2)}×`,
      `${bare.cpuMsPerCall.toFixed(3)} / ${volley.cpuMsPerCall.toFixed(3)}`,
      `${(bare.cpuMsPerCall / volley.cpuMsPerCall).toFixed(2)}×`,
      `${ms(bare.latency.p50)} / ${ms(volley.latency.p50)}`,
    ];
  });
  return [
    '## 2. Throughput',
    `Closed loop: that many turns in flight, each a fan-out of 5 no-op calls; worker processes as listed (bare and Volley alike). Rates are the median of ${rounds} alternating rounds. CPU ms per call is summed over every process (Redis included); its ratio (bare ÷ Volley) is the throughput ratio a CPU-bound machine would show, and moves less with other load.`,
    table(
      [
        'workers',
        'in flight',
        'bare flows/s',
        'bare calls/s',
        'Volley turns/s',
        'Volley calls/s',
        'Volley ÷ bare',
        'CPU ms/call bare / Volley',
        'bare ÷ Volley CPU',
        'turn p50 ms bare / Volley',
      ],
      rows,
    ),
    renderDoorFloor(result),
    `Plain BullMQ queue drain (no flows, one Worker in the bench process, concurrency ${concurrency}), best of ${result.drains.length}: **${int(result.drain.jobsPerSecond)} no-op jobs/s** (${int(result.drain.jobs)} jobs in ${result.drain.seconds.toFixed(2)} s; all: ${result.drains.map((d) => int(d.jobsPerSecond)).join(', ')}).`,
  ].join('\n\n');
}

/** The HTTP door's own cost, and Volley's CPU per call without it: how much of the gap the door is. */
function renderDoorFloor(result: ThroughputResult): string {
  const { door, rows, callsPerTurn } = result;
  const { perRequest, perCall } = doorCost(result);
  const lessDoor = rows
    .filter((row) => row.path === 'volley' && row.inFlight === door.inFlight)
    .flatMap((volley) => {
      const bare = rows.find((row) => row.path === 'bare-flow' && row.workers === volley.workers && row.inFlight === volley.inFlight);
      if (!bare || bare.cpuMsPerCall === 0) return [];
      const without = volley.cpuMsPerCall - perCall;
      return [`${volley.workers} worker${volley.workers > 1 ? 's' : ''}: ${without.toFixed(3)} ms = ${(without / bare.cpuMsPerCall).toFixed(2)}× bare`];
    });
  return [
    `HTTP door floor: \`GET /healthz\` (no Redis, no body, the same hooks) with ${door.inFlight} requests in flight: ${int(door.requestsPerSecond)} requests/s, CPU ms per request ${door.cpuMsPerRequest.orchestrator.toFixed(3)} in the orchestrator + ${door.cpuMsPerRequest.client.toFixed(3)} in the client = ${perRequest.toFixed(3)}, so at least ${perCall.toFixed(3)} ms per call of a ${callsPerTurn}-call turn is the door, which the bare flow has no counterpart of.`,
    lessDoor.length > 0 ? `Volley's CPU per call less that floor, at ${door.inFlight} in flight: ${lessDoor.join('; ')}.` : '',
  ]
    .filter((line) => line !== '')
    .join(' ');
}

function renderAgentTurn(result: AgentTurnResult): string {
  const row = (label: string, mode: AgentTurnResult['parallel']) => {
    const run = mode.runs[0]!;
    return [
      label,
      String(run.llmCalls),
      String(run.toolCalls),
      int(run.promptTokens),
      int(run.completionTokens),
      int(mode.medianWallMs),
      int(mode.medianRecordWallMs),
      int(mode.idealMs),
      `${((mode.medianWallMs / mode.idealMs - 1) * 100).toFixed(1)}%`,
    ];
  };
  return [
    '## 3. The agent turn',
    `Scripted model with L = ${result.modelLatencyMs} ms per answer, ${result.tools} tools of T = ${result.toolMs} ms each. Ideal: 2L + T in parallel, ${result.tools + 1}L + ${result.tools}T sequential. Wall: median of ${result.parallel.runs.length} / ${result.sequential.runs.length} runs; "client" is POST to the first poll that sees it completed, "record" is the task's updated_at − created_at.`,
    table(
      ['mode', 'LLM round trips', 'tool calls', 'prompt tokens', 'completion tokens', 'wall ms (client)', 'wall ms (record)', 'ideal ms', 'vs ideal'],
      [row('parallel tool calls', result.parallel), row('`parallel_tool_calls: false`', result.sequential)],
    ),
    `Where the parallel task's time went (task record timestamps, median per segment; ideal: L = ${result.modelLatencyMs} ms per model call, T = ${result.toolMs} ms for the tools, 0 for the rest):`,
    table(
      ['segment', 'ms', 'beyond ideal ms'],
      result.parallel.medianSegments.map((segment) => {
        const ideal = segment.name.startsWith('model call') ? result.modelLatencyMs : segment.name.startsWith('tools of') ? result.toolMs : 0;
        return [segment.name, int(segment.ms), int(segment.ms - ideal)];
      }),
    ),
  ].join('\n\n');
}

function renderCost(result: CostAtScaleResult): string {
  const top = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([name, calls]) => `${name} ${calls.toFixed(1)}`)
      .join(', ');
  const label = (path: string) => (path === 'volley' ? 'Volley HTTP' : 'bare flow');
  const commandRows = result.commands.map((r) => [
    label(r.path),
    String(r.calls),
    String(r.turns),
    r.perCall.toFixed(1),
    r.scriptsPerCall.toFixed(2),
    top(r.byCommandPerCall),
  ]);
  const roles = [...new Set(result.commands.flatMap((r) => Object.keys(r.cpuMsPerCall)))];
  const cpuRows = result.commands.map((r) => [
    label(r.path),
    String(r.calls),
    ...roles.map((role) => (r.cpuMsPerCall[role] ? r.cpuMsPerCall[role].toFixed(3) : '–')),
    `**${r.cpuMsPerCallTotal.toFixed(3)}**`,
  ]);
  const levels = [...new Set(result.concurrency.map((r) => r.inFlight))];
  const scaleRows = levels.map((inFlight) => {
    const bare = result.concurrency.find((r) => r.path === 'bare-flow' && r.inFlight === inFlight)!;
    const volley = result.concurrency.find((r) => r.path === 'volley' && r.inFlight === inFlight)!;
    return [
      String(inFlight),
      `${ms(bare.latency.p50)} / ${ms(bare.latency.p99)}`,
      int(bare.turnsPerSecond),
      bare.commandsPerCall.toFixed(1),
      bare.cpuMsPerCallTotal.toFixed(3),
      `${ms(volley.latency.p50)} / ${ms(volley.latency.p99)}`,
      int(volley.turnsPerSecond),
      volley.commandsPerCall.toFixed(1),
      volley.cpuMsPerCallTotal.toFixed(3),
    ];
  });
  return [
    '## 4. Cost at scale',
    `Redis commands per tool call from \`INFO commandstats\` deltas (Lua-internal commands included; idle background of ${result.idleCommandsPerSecond.toFixed(1)} commands/s subtracted). Sequential no-op fan-outs. Idle CPU (% of one core, ${Object.entries(
      result.idleCpuPercent,
    )
      .map(([role, percent]) => `${role} ${percent.toFixed(1)}%`)
      .join(', ')}).`,
    table(['path', 'N', 'turns', 'commands / call', 'scripts / call', 'top commands per call'], commandRows),
    'CPU ms per tool call of each process over the same windows (/proc/<pid>/stat; "bench" is the bare flow\'s producer and parent worker, or Volley\'s HTTP client). On 2 cores, 2,000 ms ÷ this total bounds the calls per second.',
    table(['path', 'N', ...roles, 'total'], cpuRows),
    'Concurrent turns (5 no-op calls each, closed loop): turn wall time (= overhead, T = 0) p50 / p99 ms, throughput, Redis commands and CPU ms (all processes) per call.',
    table(
      [
        'in flight',
        'bare p50 / p99',
        'bare turns/s',
        'bare cmds/call',
        'bare CPU ms/call',
        'Volley p50 / p99',
        'Volley turns/s',
        'Volley cmds/call',
        'Volley CPU ms/call',
      ],
      scaleRows,
    ),
  ].join('\n\n');
}

/** The steps shown of a long task: the first, every tenth, the last. */
const shownSteps = (turns: number): number[] => [...new Set([1, ...Array.from({ length: Math.floor(turns / 10) }, (_, i) => (i + 1) * 10), turns])];

function renderStepCost(result: StepCostResult): string {
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  const ratio = (last: number, first: number) => `${(last / first).toFixed(2)}×`;
  return [
    '## 5. Step cost over a long task',
    `A task of ${result.turns} turns, each one call of a tool answering ${int(result.resultBytes)} bytes, then a final answer; scripted model without latency, ${result.repeats} task${result.repeats > 1 ? 's' : ''}. A step runs from one model request to the next (record the answer, fan out, run the call, gather, read the task, ask the model); "bytes" is what Redis received from every client meanwhile (\`INFO stats\` total_net_input_bytes, idle background of ${int(result.idleBytesPerSecond)} B/s removed). Per step, the median over the tasks:`,
    table(
      ['step', 'KiB received by Redis', 'ms', 'ms outside the model'],
      shownSteps(result.turns).map((step) => {
        const sample = result.steps[step - 1]!;
        return [String(step), kib(sample.bytesIn), ms(sample.ms), ms(sample.outsideModelMs)];
      }),
    ),
    `First and last steps (median of steps 1–${result.window} and ${result.turns - result.window + 1}–${result.turns} of every task): ${kib(result.first.bytesIn)} → ${kib(result.last.bytesIn)} KiB (${ratio(result.last.bytesIn, result.first.bytesIn)}); ${ms(result.first.ms)} → ${ms(result.last.ms)} ms in all (${ratio(result.last.ms, result.first.ms)}), of which outside the model ${ms(result.first.outsideModelMs)} → ${ms(result.last.outsideModelMs)} ms (${ratio(result.last.outsideModelMs, result.first.outsideModelMs)}). "Outside the model" runs from the model's answer until the next request has arrived whole, its upload included (the scripted model's own clock); the rest is the model reading its prompt, which grows with the transcript.`,
  ].join('\n\n');
}

function renderMemory(memory: BenchResults['memory']): string {
  return [
    '## Memory',
    'Resident set (VmRSS) of each process right after start-up (idle) and after all runs; peak is VmHWM over its life.',
    table(
      ['process', 'pid', 'RSS at start MiB', 'RSS after runs MiB', 'peak RSS MiB'],
      memory.map((m) => [m.name, String(m.pid), m.rssAtStartMiB === null ? '–' : m.rssAtStartMiB.toFixed(1), m.rssMiB.toFixed(1), m.peakRssMiB.toFixed(1)]),
    ),
  ].join('\n\n');
}
