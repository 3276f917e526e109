import { readFile } from 'node:fs/promises';

/**
 * CPU time (user + system) a process has used, from /proc/<pid>/stat. On a 2-core machine that
 * runs Redis, the orchestrator, workers and the client at once, CPU per tool call is what
 * bounds throughput, so each measured window reads it for every process, Redis included.
 */
export const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node supports.

/** CPU ticks of one process: its own (utime + stime), or with its reaped children's too. */
export async function statTicks(pid: number, withChildren = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing ')' are fixed.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const own = fields[11]! + fields[12]!;
  return withChildren ? own + fields[13]! + fields[14]! : own;
}

export async function cpuMs(pid: number): Promise<number> {
  return ((await statTicks(pid)) * 1000) / TICKS_PER_SECOND;
}

export interface NamedPid {
  name: string;
  pid: number;
}

/** CPU ms each named process used while `work` ran (processes sharing a name are summed). */
export async function cpuDuring<T>(processes: readonly NamedPid[], work: () => Promise<T>): Promise<{ cpuMs: Record<string, number>; value: T }> {
  const before = await Promise.all(processes.map((p) => cpuMs(p.pid)));
  const value = await work();
  const after = await Promise.all(processes.map((p) => cpuMs(p.pid)));
  const used: Record<string, number> = {};
  processes.forEach((p, index) => {
    used[p.name] = (used[p.name] ?? 0) + after[index]! - before[index]!;
  });
  return { cpuMs: used, value };
}
