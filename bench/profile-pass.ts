import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ToolCall } from '@volley/shared';
import { BareFlow } from './bare-flow.ts';
import type { BenchContext } from './bench-context.ts';
import { startBenchSystem, type BenchSystem } from './bench-system.ts';
import { readCpuProfile, summarizeCpuProfile, type ProfileSummary } from './cpu-profile-summary.ts';
import { toolCalls, viaBareFlow, viaVolley } from './fan-out-paths.ts';
import { closedLoop, sequentialTurns, type Turn } from './load.ts';
import { cpuDuring } from './process-cpu.ts';
import { monitorCommands, type Counts, type MonitorCapture } from './redis-monitor.ts';
import type { BenchSettings } from './settings.ts';
import { NOOP_TOOL } from './tool-functions.ts';

const CALLS = 10;
const MONITOR_TURNS = 20;
const LATENCY_TURNS = 1_500;
const THROUGHPUT = { concurrency: 200, callsPerTurn: 5, warmupMs: 500, durationMs: 5_000 };

type Path = 'volley' | 'bare';

/** Which profiled processes serve which path. */
const PROFILED: Record<string, Path> = { orchestrator: 'volley', 'tool worker': 'volley', 'bare worker': 'bare' };

interface Phase {
  name: string;
  path: Path;
  fromUs: number;
  toUs: number;
  calls: number;
  /** CPU ms per tool call of every process role (no profiler overhead removed). */
  cpuMsPerCall: Record<string, number>;
}

export interface ProfileResults {
  startedAt: string;
  /** Commands each process sent per tool call (N = 10), from MONITOR. */
  clientCommandsPerCall: Record<Path, Record<string, Counts>>;
  insideScriptsPerCall: Record<Path, Counts>;
  phases: Array<Omit<Phase, 'fromUs' | 'toUs'>>;
  /** Self and inclusive time per phase and process, start-up excluded. */
  profiles: Array<{ process: string; phase: string; summary: ProfileSummary }>;
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * `npm run bench -- --profile`: where Volley's time and Redis round trips go, next to the bare
 * flow's. The orchestrator and both kinds of tool worker run under `--cpu-prof`, through
 * NODE_OPTIONS (spawnNode puts `args` after the script, where Node reads no flags); each load
 * phase's samples are cut out by time, so start-up and module loading stay out of the ranking.
 */
export async function runProfilePass(settings: BenchSettings, resultsDir: string, log: (message: string) => void): Promise<void> {
  const profileDir = join(resultsDir, 'profiles');
  await rm(profileDir, { recursive: true, force: true });
  const dirs: Record<string, string> = Object.fromEntries(Object.keys(PROFILED).map((name) => [name, join(profileDir, name.replace(' ', '-'))]));
  await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { recursive: true })));
  const prof = (name: string) => `--cpu-prof --cpu-prof-dir=${dirs[name]}`;
  const startedAt = new Date().toISOString();
  const phases: Phase[] = [];
  let monitored: Record<Path, MonitorCapture> | undefined;
  let system: BenchSystem | undefined;
  try {
    system = await startBenchSystem(settings, {
      log,
      orchestratorNodeOptions: prof('orchestrator'),
      workerNodeOptions: prof('tool worker'),
      bareWorkerNodeOptions: prof('bare worker'),
    });
    const { ctx } = system;
    const bare = await BareFlow.start(ctx.redisUrl, { concurrency: settings.parentConcurrency, completion: 'worker-event' });
    try {
      const via: Record<Path, (calls: readonly ToolCall[]) => Promise<void>> = {
        volley: (calls) => viaVolley(ctx.volley.api, calls),
        bare: (calls) => viaBareFlow(bare, calls),
      };
      const calls = toolCalls(CALLS, NOOP_TOOL, 0);
      monitored = { volley: await capture(ctx, () => via.volley(calls)), bare: await capture(ctx, () => via.bare(calls)) };
      log(`profile: MONITOR captured ${MONITOR_TURNS} turns of N=${CALLS} for Volley and the bare flow`);

      for (const path of ['volley', 'bare'] as const) {
        const name = `${path} latency: ${LATENCY_TURNS} sequential turns, N=${CALLS}`;
        phases.push(
          await phase(ctx, name, path, () => sequentialTurns(() => via[path](calls), { warmup: 0, count: LATENCY_TURNS }).then(() => LATENCY_TURNS * CALLS)),
        );
        log(`profile: ${name}`);
      }
      const small = toolCalls(THROUGHPUT.callsPerTurn, NOOP_TOOL, 0);
      for (const path of ['volley', 'bare'] as const) {
        const name = `${path} throughput: ${THROUGHPUT.concurrency} in flight, N=${THROUGHPUT.callsPerTurn}`;
        phases.push(await phase(ctx, name, path, async () => (await closedLoop(() => via[path](small), THROUGHPUT)).allTurns * small.length));
        log(`profile: ${name} (${phases.at(-1)!.calls} calls under the profiler)`);
      }
    } finally {
      await bare.close();
    }
  } finally {
    // Profiles are written when the processes exit.
    await system?.stop();
  }

  const profiles: ProfileResults['profiles'] = [];
  for (const [processName, dir] of Object.entries(dirs)) {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
      const profile = await readCpuProfile(join(dir, file));
      for (const p of phases.filter((p) => p.path === PROFILED[processName])) {
        profiles.push({ process: processName, phase: p.name, summary: summarizeCpuProfile(profile, { window: p }) });
      }
    }
  }
  const perCall = (counts: Counts): Counts => Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, n / (MONITOR_TURNS * CALLS)]));
  const byProcess = (capture: MonitorCapture): Record<string, Counts> =>
    Object.fromEntries(Object.entries(capture.byProcess).map(([name, counts]) => [name, perCall(counts)]));
  const results: ProfileResults = {
    startedAt,
    clientCommandsPerCall: { volley: byProcess(monitored!.volley), bare: byProcess(monitored!.bare) },
    insideScriptsPerCall: { volley: perCall(monitored!.volley.insideScripts), bare: perCall(monitored!.bare.insideScripts) },
    phases: phases.map(({ fromUs: _from, toUs: _to, ...rest }) => rest),
    profiles,
  };
  await writeFile(join(resultsDir, 'profile.json'), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderProfile(results);
  await writeFile(join(resultsDir, 'profile.md'), markdown);
  process.stdout.write(`\n${markdown}\nWritten: ${join(resultsDir, 'profile.{json,md}')}, raw profiles under ${profileDir}\n`);
}

async function capture(ctx: BenchContext, turn: Turn): Promise<MonitorCapture> {
  await sequentialTurns(turn, { warmup: 20, count: 0 });
  const roles = ctx.processes().map((p) => (p.name === 'bench' ? { ...p, name: 'bench (client / bare producer + parent)' } : p));
  return monitorCommands(ctx.redisUrl, roles, () => sequentialTurns(turn, { warmup: 0, count: MONITOR_TURNS }).then(() => undefined));
}

/** Runs `work` (which answers how many tool calls it made) as one profiled, CPU-accounted phase. */
async function phase(ctx: BenchContext, name: string, path: Path, work: () => Promise<number>): Promise<Phase> {
  const fromUs = monotonicUs();
  const { cpuMs, value: calls } = await cpuDuring(ctx.processes(), work);
  const toUs = monotonicUs();
  return { name, path, fromUs, toUs, calls, cpuMsPerCall: Object.fromEntries(Object.entries(cpuMs).map(([role, ms]) => [role, ms / calls])) };
}

function renderProfile(results: ProfileResults): string {
  const sorted = (counts: Counts) => Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const sum = (counts: Counts) => Object.values(counts).reduce((a, b) => a + b, 0);
  const commands = (label: string, byProcess: Record<string, Counts>, inside: Counts): string[] => [
    `### ${label}: commands sent per tool call (N = ${CALLS}, ${MONITOR_TURNS} turns under MONITOR)`,
    '',
    ...Object.entries(byProcess)
      .filter(([name]) => !name.startsWith('other'))
      .map(
        ([name, counts]) =>
          `- **${name}**: ${sum(counts).toFixed(2)} — ${sorted(counts)
            .map(([c, n]) => `${c} ${n.toFixed(2)}`)
            .join(', ')}`,
      ),
    `- inside Lua scripts: ${sum(inside).toFixed(1)} — ${sorted(inside)
      .slice(0, 12)
      .map(([c, n]) => `${c} ${n.toFixed(1)}`)
      .join(', ')}`,
  ];
  const roles = [...new Set(results.phases.flatMap((p) => Object.keys(p.cpuMsPerCall)))];
  const cpuTable = [
    `| phase | ${roles.join(' | ')} | total |`,
    `|---|${roles.map(() => '---').join('|')}|---|`,
    ...results.phases.map((p) => `| ${p.name} | ${roles.map((r) => (p.cpuMsPerCall[r] ?? 0).toFixed(3)).join(' | ')} | ${sum(p.cpuMsPerCall).toFixed(3)} |`),
  ];
  const frames = (rows: ProfileSummary['functions'], limit: number) => [
    '| ms | share | function |',
    '|---|---|---|',
    ...rows.slice(0, limit).map((f) => `| ${f.ms.toFixed(0)} | ${(f.share * 100).toFixed(1)}% | \`${f.name}\` |`),
  ];
  const profileSections = results.profiles.flatMap(({ process: name, phase, summary }) => [
    '',
    `### ${name} — ${phase}`,
    '',
    `Busy ${summary.busyMs.toFixed(0)} ms of ${summary.totalMs.toFixed(0)} ms sampled. By package (self): ${summary.origins
      .slice(0, 10)
      .map((o) => `${o.name} ${(o.share * 100).toFixed(1)}%`)
      .join(', ')}`,
    '',
    'Top self time:',
    '',
    ...frames(summary.functions, 20),
    ...(summary.volleyInclusive.length
      ? ['', 'Volley functions, inclusive time (self + synchronous callees):', '', ...frames(summary.volleyInclusive, 12)]
      : []),
  ]);
  return [
    `# Volley profile pass (${results.startedAt})`,
    '',
    'Every process under `--cpu-prof` (slower than unprofiled: compare paths with each other, not with latest.md).',
    '',
    '## CPU ms per tool call, by process',
    '',
    ...cpuTable,
    '',
    '## Redis round trips',
    '',
    ...commands('Volley', results.clientCommandsPerCall.volley, results.insideScriptsPerCall.volley),
    '',
    ...commands('bare flow', results.clientCommandsPerCall.bare, results.insideScriptsPerCall.bare),
    '',
    '## CPU profiles',
    ...profileSections,
    '',
  ].join('\n');
}
