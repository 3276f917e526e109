import { setTimeout as delay } from 'node:timers/promises';

/**
 * The benchmark's tool bodies as plain functions with no Volley import, so the bare-BullMQ
 * worker and the in-process `Promise.all` baseline run exactly what Volley's workers run.
 */

export const NOOP_TOOL = 'noop';
export const SLEEP_TOOL = 'sleep_ms';
export const BLOB_TOOL = 'blob';

export function noop(): string {
  return 'ok';
}

export async function sleepMs({ ms }: { ms: number }, signal?: AbortSignal): Promise<{ slept_ms: number }> {
  // A 0 ms timer still costs a macrotask (~0.1 ms); T = 0 must mean "no sleep at all".
  if (ms > 0) await delay(ms, undefined, signal ? { signal } : {});
  return { slept_ms: ms };
}

/** A result of `bytes` bytes: stands in for a tool whose answer is a page of text or a query's rows. */
export function blob({ bytes }: { bytes: number }): string {
  return 'x'.repeat(bytes);
}

/** Arguments of one call: what a model would send as `function.arguments`. */
export function toolArguments(name: string, sleepForMs: number): string {
  return name === SLEEP_TOOL ? JSON.stringify({ ms: sleepForMs }) : '{}';
}
