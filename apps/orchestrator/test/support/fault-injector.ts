import { setTimeout as delay } from 'node:timers/promises';
import type { Stall } from './body-runs.ts';
import type { Cluster } from './cluster.ts';
import type { LiveOrchestrators } from './live-orchestrators.ts';

export type FaultKind = 'kill worker' | 'pause worker' | 'kill orchestrator' | 'pause orchestrator' | 'freeze redis';

export interface FaultTimes {
  /** A paused process stays stopped this long (drawn in the range): past its job lock and lease, so its work is taken over. */
  pauseMs: readonly [number, number];
  freezeMs: readonly [number, number];
  /** At least this long between two Redis freezes. */
  freezeGapMs: number;
}

/**
 * Does to a cluster what a bad day does to a deployment — SIGKILL (then a replacement),
 * SIGSTOP for a while (then SIGCONT), a frozen Redis — one fault at a time from a seeded
 * schedule, always leaving a running worker and a running orchestrator, and remembers when each
 * happened so a test can tell what a process was doing while it stood still.
 */
export class FaultInjector {
  /** When each process was SIGKILLed, by name. */
  readonly kills = new Map<string, number>();
  /** Windows during which a process was stopped, or (`who: 'redis'`) Redis was frozen. */
  readonly stalls: Stall[] = [];
  readonly counts = { workerKills: 0, orchestratorKills: 0, workerPauses: 0, orchestratorPauses: 0, freezes: 0 };
  /** What was done to whom, when (epoch ms first). */
  readonly timeline: string[] = [];
  private readonly schedule: FaultKind[];
  private readonly pending: Array<Promise<unknown>> = [];
  private readonly pausedWorkers = new Set<string>();
  private frozenUntil = 0;
  private lastFreeze = 0;

  private readonly cluster: Cluster;
  private readonly live: LiveOrchestrators;
  private readonly random: () => number;
  private readonly times: FaultTimes;

  constructor(cluster: Cluster, live: LiveOrchestrators, random: () => number, schedule: readonly FaultKind[], times: FaultTimes) {
    this.cluster = cluster;
    this.live = live;
    this.random = random;
    this.schedule = [...schedule];
    this.times = times;
  }

  /** Faults of the schedule not injected yet. */
  remaining(): readonly FaultKind[] {
    return this.schedule;
  }

  /** Redis is frozen right now (or about to thaw). */
  frozen(): boolean {
    return Date.now() < this.frozenUntil;
  }

  /** Injects the first fault of the schedule that leaves a survivor; none when none can. */
  async injectNext(): Promise<void> {
    const index = this.schedule.findIndex((kind) => this.can(kind));
    if (index >= 0) await this.inject(this.schedule.splice(index, 1)[0]!);
  }

  /** Waits for every stopped process to continue, Redis to thaw, and every replacement to be ready. */
  async settle(): Promise<void> {
    await Promise.all(this.pending);
  }

  private runningWorkers() {
    return this.cluster.workers.filter((worker) => worker.alive() && !this.pausedWorkers.has(worker.name));
  }

  private can(kind: FaultKind): boolean {
    switch (kind) {
      case 'kill worker':
      case 'pause worker':
        return this.runningWorkers().length >= 2;
      case 'kill orchestrator':
      case 'pause orchestrator':
        return this.live.usable().length >= 2;
      case 'freeze redis':
        return !this.frozen() && Date.now() - this.lastFreeze > this.times.freezeGapMs;
    }
  }

  private async inject(kind: FaultKind): Promise<void> {
    switch (kind) {
      case 'kill worker': {
        const victim = this.pick(this.runningWorkers());
        await this.kill(victim);
        this.counts.workerKills += 1;
        this.pending.push(this.cluster.addWorker(`fault-worker-${this.counts.workerKills}`));
        return;
      }
      case 'kill orchestrator': {
        await this.kill(this.cluster.orchestrators[this.pick(this.live.usable())]!);
        this.counts.orchestratorKills += 1;
        this.pending.push(this.cluster.addOrchestrator());
        return;
      }
      case 'pause worker': {
        const victim = this.pick(this.runningWorkers());
        this.pausedWorkers.add(victim.name);
        this.counts.workerPauses += 1;
        this.stop(victim, () => this.pausedWorkers.delete(victim.name));
        return;
      }
      case 'pause orchestrator': {
        const index = this.pick(this.live.usable());
        this.live.paused.add(index);
        this.counts.orchestratorPauses += 1;
        this.stop(this.cluster.orchestrators[index]!, () => this.live.paused.delete(index));
        return;
      }
      case 'freeze redis': {
        const ms = this.draw(this.times.freezeMs);
        const stall = { who: 'redis', from: Date.now(), to: Number.POSITIVE_INFINITY };
        this.note(`freeze Redis for ${ms} ms`);
        this.cluster.redis.freeze!();
        this.frozenUntil = Date.now() + ms;
        this.lastFreeze = Date.now();
        this.stalls.push(stall);
        this.counts.freezes += 1;
        this.pending.push(
          delay(ms).then(() => {
            this.cluster.redis.thaw!();
            stall.to = Date.now();
            this.note('thaw Redis');
          }),
        );
        return;
      }
    }
  }

  private async kill(victim: Cluster['workers'][number]): Promise<void> {
    this.kills.set(victim.name, Date.now());
    this.note(`SIGKILL ${victim.name}`);
    await victim.kill();
  }

  private stop(victim: Cluster['workers'][number], resumed: () => void): void {
    const ms = this.draw(this.times.pauseMs);
    const stall = { who: victim.name, from: Date.now(), to: Number.POSITIVE_INFINITY };
    this.note(`SIGSTOP ${victim.name} for ${ms} ms`);
    victim.pause();
    this.stalls.push(stall);
    this.pending.push(
      delay(ms).then(() => {
        victim.resume();
        stall.to = Date.now();
        this.note(`SIGCONT ${victim.name}`);
        resumed();
      }),
    );
  }

  private note(what: string): void {
    this.timeline.push(`${Date.now()} ${what}`);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  private draw([from, to]: readonly [number, number]): number {
    return from + Math.floor(this.random() * (to - from));
  }
}
