/**
 * Self time per function (and per package) from a V8 `.cpuprofile`, as written by
 * `node --cpu-prof`. Self time is what the function itself ran, not its callees: the place to
 * cut. Also usable alone: `node bench/cpu-profile-summary.ts <file.cpuprofile> [top]`.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  name: string;
  ms: number;
  /** Of all sampled time, idle included. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time minus (idle): what the process spent on the CPU. */
  busyMs: number;
  functions: FrameTime[];
  origins: FrameTime[];
  /**
   * Inclusive time (self + synchronous callees) of Volley's own functions: which of our code
   * paths the self time above is spent under. Async continuations start new stacks, so an
   * async function counts only its synchronous stretches.
   */
  volleyInclusive: FrameTime[];
}

const VOLLEY_CODE = /\/(?:apps|packages)\//;

/**
 * `window` (µs on the monotonic clock, which V8's timestamps and `process.hrtime` share on Linux)
 * keeps only the samples of one phase, e.g. without the process's start-up and module loading.
 */
export function summarizeCpuProfile(profile: CpuProfile, options: { top?: number; window?: { fromUs: number; toUs: number } } = {}): ProfileSummary {
  const top = options.top ?? 25;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let totalUs = 0;
  let at = profile.startTime;
  // Sample i lasted until sample i + 1 was taken; the last one gets its own delta again.
  for (let i = 0; i < profile.samples.length; i += 1) {
    at += profile.timeDeltas[i] ?? 0;
    if (options.window && (at < options.window.fromUs || at > options.window.toUs)) continue;
    const us = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const frame = frames.get(profile.samples[i]!);
    if (!frame) continue;
    totalUs += us;
    const fn = functionKey(frame);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const onStack = new Set<string>();
    for (let id: number | undefined = profile.samples[i]!; id !== undefined; id = parents.get(id)) {
      const caller = frames.get(id);
      if (caller && VOLLEY_CODE.test(caller.url)) onStack.add(functionKey(caller));
    }
    for (const key of onStack) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    const origin = originOf(frame.url, frame.functionName);
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + us);
  }
  const rank = (map: Map<string, number>, limit: number): FrameTime[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, ms: us / 1000, share: totalUs ? us / totalUs : 0 }));
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - (byOrigin.get('(idle)') ?? 0)) / 1000,
    functions: rank(byFunction, top),
    origins: rank(byOrigin, 15),
    volleyInclusive: rank(inclusive, top),
  };
}

function functionKey(frame: CpuProfileNode['callFrame']): string {
  return `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`.trim();
}

/** The package (or Volley workspace, or Node built-in) a frame belongs to. */
function originOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1]!;
  const inVolley = /\/((?:apps|packages|bench)\/[^/]+)\//.exec(url);
  return inVolley ? inVolley[1]! : shortUrl(url);
}

function shortUrl(url: string): string {
  const inModules = url.lastIndexOf('node_modules/');
  if (inModules >= 0) return url.slice(inModules + 'node_modules/'.length);
  const inRepo = /\/((?:apps|packages|bench)\/.*)$/.exec(url);
  return inRepo ? inRepo[1]! : url.replace(/^file:\/\//, '');
}

export async function readCpuProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/cpu-profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const summary = summarizeCpuProfile(await readCpuProfile(file), { top: Number(top ?? 25) });
  process.stdout.write(`sampled ${summary.totalMs.toFixed(0)} ms, busy ${summary.busyMs.toFixed(0)} ms\n\nby package:\n`);
  for (const row of summary.origins) process.stdout.write(`${row.ms.toFixed(1).padStart(9)} ms ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.name}\n`);
  process.stdout.write('\nby function (self time):\n');
  for (const row of summary.functions) process.stdout.write(`${row.ms.toFixed(1).padStart(9)} ms ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.name}\n`);
  process.stdout.write('\nVolley functions (inclusive time):\n');
  for (const row of summary.volleyInclusive)
    process.stdout.write(`${row.ms.toFixed(1).padStart(9)} ms ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.name}\n`);
}
