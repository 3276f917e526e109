import { pino, stdSerializers, type Logger } from 'pino';

export type { Logger };

/** Redis commands whose arguments carry credentials (ioredis sends `HELLO 3 AUTH user pass`). */
const CREDENTIAL_COMMANDS = new Set(['hello', 'auth', 'migrate']);

/**
 * ioredis attaches the failed command to its errors, so a refused password would land in the
 * log as `err.command.args`. The command's name stays; its arguments do not.
 */
export function serializeError(error: Error): ReturnType<typeof stdSerializers.err> {
  const serialized = stdSerializers.err(error);
  const command = serialized.command as { name?: unknown } | undefined;
  if (command && typeof command === 'object' && CREDENTIAL_COMMANDS.has(String(command.name).toLowerCase())) {
    serialized.command = { name: command.name, args: '[redacted]' };
  }
  return serialized;
}

/** JSON lines on stdout, one logger per process. Credentials in headers are never written. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    serializers: { err: serializeError },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]'],
      censor: '[redacted]',
    },
  });
}
