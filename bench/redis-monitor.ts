import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

/**
 * Who sends which command: MONITOR sees every command with its client's address ("lua" for
 * commands a script runs), which INFO commandstats cannot tell apart. Addresses map to
 * processes through `ss`, and EVALSHA digests to BullMQ script names through the scripts'
 * own source. MONITOR slows Redis down, so use it on a handful of turns, never while timing.
 */

export type Counts = Record<string, number>;

export interface MonitorCapture {
  /** Commands sent by each process (a round trip each, except inside MULTI/EXEC), scripts by name. */
  byProcess: Record<string, Counts>;
  /** Commands run inside Lua scripts. */
  insideScripts: Counts;
}

const scriptsDir = fileURLToPath(new URL('../node_modules/bullmq/dist/esm/scripts/', import.meta.url));

let scriptNames: Promise<Map<string, string>> | undefined;

/** EVALSHA digest → BullMQ script name; ioredis sends the SHA-1 of the script's source. */
function bullmqScriptNames(): Promise<Map<string, string>> {
  scriptNames ??= (async () => {
    const names = new Map<string, string>();
    for (const file of await readdir(scriptsDir)) {
      if (!file.endsWith('.js') || file === 'index.js') continue;
      const module = (await import(pathToFileURL(`${scriptsDir}${file}`).href)) as Record<string, { name?: string; content?: string }>;
      for (const script of Object.values(module)) {
        if (script?.name && script.content) names.set(createHash('sha1').update(script.content).digest('hex'), script.name);
      }
    }
    return names;
  })();
  return scriptNames;
}

/** Local port of each TCP connection to `redisPort` → the pid that owns it. */
async function connectionOwners(redisPort: number): Promise<Map<number, number>> {
  const { stdout } = await promisify(execFile)('ss', ['-tnpH', 'state', 'established', `( dport = :${redisPort} )`]);
  const owners = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const local = /\s[\d.]+:(\d+)\s+[\d.]+:\d+\s/.exec(line);
    const pid = /pid=(\d+)/.exec(line);
    if (local && pid) owners.set(Number(local[1]), Number(pid[1]));
  }
  return owners;
}

export async function monitorCommands(
  redisUrl: string,
  processes: ReadonlyArray<{ name: string; pid: number }>,
  work: () => Promise<void>,
): Promise<MonitorCapture> {
  const names = await bullmqScriptNames();
  // monitor() opens a connection of its own; both are closed at the end.
  const client = new Redis(redisUrl);
  const monitor = await client.monitor();
  const seen: Array<{ source: string; command: string }> = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0]).toLowerCase();
    const command = name === 'evalsha' ? `evalsha ${names.get(String(args[1])) ?? String(args[1]).slice(0, 8)}` : name;
    seen.push({ source, command });
  });
  try {
    await work();
    // MONITOR lines trail the work a little; the owners are read while the connections live.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const owners = await connectionOwners(Number(new URL(redisUrl).port));
    const byPid = new Map(processes.map((p) => [p.pid, p.name]));
    const capture: MonitorCapture = { byProcess: {}, insideScripts: {} };
    for (const { source, command } of seen) {
      let bucket: Counts;
      if (source === 'lua') bucket = capture.insideScripts;
      else {
        const pid = owners.get(Number(source.split(':').at(-1)));
        const owner = (pid !== undefined ? byPid.get(pid) : undefined) ?? `other (${source})`;
        bucket = capture.byProcess[owner] ??= {};
      }
      bucket[command] = (bucket[command] ?? 0) + 1;
    }
    return capture;
  } finally {
    monitor.disconnect();
    client.disconnect();
  }
}
