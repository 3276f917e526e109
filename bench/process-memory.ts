import { readFile } from 'node:fs/promises';

export interface ProcessMemory {
  name: string;
  pid: number;
  /** Resident set now, MiB. */
  rssMiB: number;
  /** Peak resident set over the process's life (VmHWM), MiB. */
  peakRssMiB: number;
}

/** Linux only: the kernel's own accounting, so it covers native memory (ioredis buffers, msgpackr) too. */
export async function processMemory(name: string, pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return { name, pid, rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
}
