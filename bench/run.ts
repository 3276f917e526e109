/**
 * `npm run bench`: issue 6's benchmark. Starts its own Redis, scripted model, Volley
 * orchestrator and tool workers, and the bare-BullMQ baseline's workers; runs every scenario
 * against that one Redis so ratios are fair; writes bench/results/latest.{json,md} and prints
 * the table. Everything it started is stopped at the end, on error too.
 *
 *   npm run bench                  the full run (≈ 5 minutes on 2 cores)
 *   npm run bench -- --quick       a smoke run of the harness; its numbers are not results
 *   npm run bench -- --only step-cost,agent-turn
 *                                  only those scenarios (names as in SCENARIOS), into
 *                                  bench/results/only-<names>.{json,md}: latest.* stays a full run
 *   npm run bench -- --profile     instead: CPU profiles and per-process Redis commands of
 *                                  N = 10 fan-outs, into bench/results/profile.{json,md}
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runProfilePass } from './profile-pass.ts';
import { ForeignLoad } from './foreign-load.ts';
import { processMemory } from './process-memory.ts';
import { renderMarkdown, writeResults, type BenchResults } from './report.ts';
import { runAgentTurn } from './scenarios/agent-turn.ts';
import { runCostAtScale } from './scenarios/cost-at-scale.ts';
import { runFanOutOverhead } from './scenarios/fan-out-overhead.ts';
import { runStepCost } from './scenarios/step-cost.ts';
import { runThroughput } from './scenarios/throughput.ts';
import { startBenchSystem, type BenchSystem } from './bench-system.ts';
import { FULL, QUICK } from './settings.ts';
import { nowMs } from './stats.ts';
import { checkTargets } from './targets.ts';

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const quick = process.argv.includes('--quick');
const settings = quick ? QUICK : FULL;

/** Every scenario, in the order a run takes them, by the name `--only` knows it by (its file's). */
const SCENARIOS = ['fan-out-overhead', 'throughput', 'agent-turn', 'cost-at-scale', 'step-cost'] as const;
type ScenarioName = (typeof SCENARIOS)[number];
const only = onlyScenarios();
const began = nowMs();
const log = (message: string): void => {
  process.stderr.write(`[bench ${((nowMs() - began) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
};

let system: BenchSystem | undefined;
// Ctrl-C mid-run: stop the processes first (spawnNode's exit hook would SIGKILL them anyway).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void (system?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

async function benchmark(): Promise<void> {
  const startedAt = new Date().toISOString();
  // Other work on this 2-core machine skews every number; the report says how busy it was.
  const loadAtStart = loadavg();
  const code = codeVersion();
  system = await startBenchSystem(settings, { log });
  const { ctx } = system;
  const processes = () => [
    { name: 'orchestrator', pid: ctx.volley.orchestrator.pid },
    ...ctx.volley.workers.map((worker) => ({ name: `Volley ${worker.name}`, pid: worker.pid })),
    ...ctx.bareWorkers.processes.map((worker) => ({ name: worker.name, pid: worker.pid })),
    { name: 'bench (client, scripted model, bare parent worker)', pid: process.pid },
  ];
  // Idle, just started: the baseline the growth after the runs is read against.
  const memoryAtStart = await Promise.all(processes().map((p) => processMemory(p.name, p.pid)));
  const foreignLoad = new ForeignLoad();
  const foreignCpuPercent: Record<string, number> = {};
  const scenario = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    await foreignLoad.take();
    const result = await run();
    foreignCpuPercent[name] = await foreignLoad.take();
    return result;
  };
  const chosen = <T>(name: ScenarioName, run: () => Promise<T>): Promise<T | undefined> =>
    only === undefined || only.includes(name) ? scenario(name, run) : Promise.resolve(undefined);
  const overhead = await chosen('fan-out-overhead', () => runFanOutOverhead(ctx));
  const throughput = await chosen('throughput', () => runThroughput(ctx));
  const agentTurn = await chosen('agent-turn', () => runAgentTurn(ctx));
  const cost = await chosen('cost-at-scale', () => runCostAtScale(ctx));
  const stepCost = await chosen('step-cost', () => runStepCost(ctx));
  const memory = await Promise.all(
    processes().map(async (p) => ({
      ...(await processMemory(p.name, p.pid)),
      rssAtStartMiB: memoryAtStart.find((m) => m.pid === p.pid)?.rssMiB ?? null,
    })),
  );
  // Warnings (e.g. MaxListenersExceeded) land on stderr at LOG_LEVEL=warn; the report keeps them.
  const processStderr = [ctx.volley.orchestrator, ...ctx.volley.workers, ...ctx.bareWorkers.processes]
    .map((child) => ({ name: child.name, tail: child.stderr().slice(-1_500) }))
    .filter((entry) => entry.tail.trim() !== '');
  const redisVersion = /redis_version:(\S+)/.exec(await ctx.redis.info('server'))?.[1] ?? 'unknown';
  const measured: Omit<BenchResults, 'targets'> = {
    meta: {
      startedAt,
      runtimeSeconds: (nowMs() - began) / 1000,
      quick,
      ...(only === undefined ? {} : { only }),
      code,
      node: process.version,
      bullmq: packageVersion('bullmq'),
      redis: { version: redisVersion, backend: system.redisBackend },
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      loadAverage: { atStart: loadAtStart, atEnd: loadavg() },
      foreignCpuPercent,
      settings,
    },
    ...(overhead === undefined ? {} : { overhead }),
    ...(throughput === undefined ? {} : { throughput }),
    ...(agentTurn === undefined ? {} : { agentTurn }),
    ...(cost === undefined ? {} : { cost }),
    ...(stepCost === undefined ? {} : { stepCost }),
    memory,
    processStderr,
  };
  const results: BenchResults = { ...measured, targets: checkTargets(measured) };
  const written = await writeResults(resultsDir, only === undefined ? 'latest' : `only-${only.join('+')}`, results);
  process.stdout.write(`\n${renderMarkdown(results)}\nWritten: ${written.json}, ${written.markdown}\n`);
}

/** `--only a,b`: the scenarios to run, checked against SCENARIOS; undefined runs them all. */
function onlyScenarios(): ScenarioName[] | undefined {
  const at = process.argv.indexOf('--only');
  if (at === -1) return undefined;
  const names = (process.argv[at + 1] ?? '').split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    process.stderr.write(`--only takes a comma-separated list of ${SCENARIOS.join(', ')}${unknown.length ? ` (not: ${unknown.join(', ')})` : ''}\n`);
    process.exit(2);
  }
  return SCENARIOS.filter((name) => names.includes(name));
}

/** The commit measured, and whether apps/ or packages/ had uncommitted changes at the start. */
function codeVersion(): { commit: string; uncommittedFiles: number } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'apps', 'packages');
    return { commit: git('rev-parse', '--short', 'HEAD'), uncommittedFiles: dirty ? dirty.split('\n').length : 0 };
  } catch {
    return { commit: 'unknown (no git)', uncommittedFiles: 0 };
  }
}

/** Read from the installed copy: what ran, not what package.json allows. */
function packageVersion(name: string): string {
  const file = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

try {
  if (process.argv.includes('--profile')) await runProfilePass(settings, resultsDir, log);
  else await benchmark();
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await system?.stop();
  log(`done in ${((nowMs() - began) / 1000).toFixed(1)} s`);
  // Nothing left running may hold a finished run open, e.g. a Docker probe's socket to an
  // unreachable DOCKER_HOST, which only gives up after the OS's connect timeout.
  process.exit();
}
