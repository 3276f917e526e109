import { z } from 'zod';
import { VolleyError } from './errors.ts';

/**
 * Parses environment variables with a zod schema (an object, possibly refined or transformed). Empty strings count as unset (so
 * `FOO=` falls back to the default) and every problem is reported at once.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') cleaned[key] = value;
  }
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const value = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
    return `  ${name}: ${issue.message}${value === undefined ? '' : shownValue(name, value)}`;
  });
  throw new VolleyError('config_invalid', `invalid configuration:\n${problems.join('\n')}`);
}

const SECRET_NAME = /KEY|SECRET|TOKEN|PASSWORD/i;

/** The bad value helps the operator, but secrets (and passwords inside URLs) stay out of logs. */
function shownValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return ' (value hidden)';
  return ` (got ${JSON.stringify(value.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@'))})`;
}

/** For `main.ts`: parse or print every problem and exit 1. */
export function loadEnvOrExit<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return parseEnv(schema, env);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

/** Reusable env field helpers. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  /** A duration for a timer: at most 2^31 - 1 ms, the most `setTimeout` takes. */
  durationMs: (fallback: number) => z.coerce.number().int().positive().max(2_147_483_647).default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .transform((value) => value === 'true' || value === '1' || value === 'yes')
      .default(fallback),
  redisUrl: () =>
    z
      .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
      .default('redis://127.0.0.1:6379'),
  csv: () =>
    z
      .string()
      .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))
      .default([]),
};
