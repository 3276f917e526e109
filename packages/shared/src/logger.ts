import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout, one logger per process. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
