import { readFile } from 'node:fs/promises';
import { statTicks, TICKS_PER_SECOND } from './process-cpu.ts';

/**
 * How much CPU processes that are not this run's took while it ran (tests, builds, anything
 * else on the machine). On 2 cores even one busy neighbour skews every number, so each
 * scenario's share goes into the report next to its results.
 *
 * Whole-machine busy time (/proc/stat) minus this run's: the bench process and its children,
 * live ones read directly and exited ones through the bench's cutime/cstime, which the kernel
 * credits when a child is reaped. No periodic sampling, so the measurement costs nothing.
 */
async function machineBusyTicks(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** utime + stime + cutime + cstime of one process, in ticks; 0 once it is gone. */
async function treeTicks(pid: number): Promise<number> {
  return statTicks(pid, true).catch(() => 0);
}

async function runTicks(): Promise<number> {
  const children = (await readFile(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')).split(' ').filter(Boolean).map(Number);
  const ticks = await Promise.all([process.pid, ...children].map(treeTicks));
  return ticks.reduce((a, b) => a + b, 0);
}

export class ForeignLoad {
  private last: { at: number; machine: number; run: number } | undefined;

  /** Foreign CPU since the previous call, in % of one core (the first call only starts the clock). */
  async take(): Promise<number> {
    const now = { at: Date.now(), machine: await machineBusyTicks(), run: await runTicks() };
    const last = this.last;
    this.last = now;
    if (!last) return 0;
    const foreign = Math.max(0, now.machine - last.machine - (now.run - last.run));
    const seconds = (now.at - last.at) / 1000;
    return seconds > 0 ? (foreign / TICKS_PER_SECOND / seconds) * 100 : 0;
  }
}
