import type { Redis } from 'ioredis';
import { nowMs } from './stats.ts';

/** Calls per command name, as `INFO commandstats` counts them (commands run inside Lua scripts included). */
export type CommandCounts = Record<string, number>;

export async function commandStats(redis: Redis): Promise<CommandCounts> {
  const text = await redis.info('commandstats');
  const counts: CommandCounts = {};
  for (const line of text.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match) counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

function diff(before: CommandCounts, after: CommandCounts): CommandCounts {
  const delta: CommandCounts = {};
  for (const [name, calls] of Object.entries(after)) {
    const change = calls - (before[name] ?? 0);
    if (change > 0) delta[name] = change;
  }
  // The INFO that closes the window is counted by Redis itself; it is not the system's work.
  if (delta.info !== undefined) delta.info -= 1;
  if (delta.info === 0) delete delta.info;
  return delta;
}

export interface CommandWindow {
  total: number;
  byCommand: CommandCounts;
  durationMs: number;
}

/** The commands Redis ran while `work` ran: everyone's, so keep the rest of the system quiet. */
export async function countCommands<T>(redis: Redis, work: () => Promise<T>): Promise<CommandWindow & { value: T }> {
  const before = await commandStats(redis);
  const started = nowMs();
  const value = await work();
  const durationMs = nowMs() - started;
  const byCommand = diff(before, await commandStats(redis));
  const total = Object.values(byCommand).reduce((sum, calls) => sum + calls, 0);
  return { total, byCommand, durationMs, value };
}

/**
 * Idle processes still talk to Redis (blocking waits that time out, registry heartbeats, stalled
 * checks). Their rate, times a window's length, is subtracted from what the window counted.
 */
export async function idleCommandRate(redis: Redis, ms: number): Promise<{ perSecond: number; byCommand: CommandCounts }> {
  const window = await countCommands(redis, () => new Promise((resolve) => setTimeout(resolve, ms)));
  return { perSecond: (window.total * 1000) / window.durationMs, byCommand: window.byCommand };
}

/** Commands per unit of work (e.g. per tool call), by name, after removing the idle background. */
export function perUnit(window: CommandWindow, units: number, idlePerSecond: number): { total: number; byCommand: CommandCounts } {
  const background = (idlePerSecond * window.durationMs) / 1000;
  const byCommand: CommandCounts = {};
  for (const [name, calls] of Object.entries(window.byCommand)) byCommand[name] = calls / units;
  return { total: Math.max(0, window.total - background) / units, byCommand };
}

/** Bytes Redis has received from all its clients since it started (`INFO stats` total_net_input_bytes). */
export async function inputBytes(redis: Redis): Promise<number> {
  const match = /total_net_input_bytes:(\d+)/.exec(await redis.info('stats'));
  if (!match) throw new Error('INFO stats has no total_net_input_bytes');
  return Number(match[1]);
}
