import { z } from 'zod';
import { VolleyError } from './errors.ts';
import { hasHashTag, queuePrefix } from './queue/names.ts';

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

// MCP server lists carry headers and environments, tokens among them.
const SECRET_NAME = /KEY|SECRET|TOKEN|PASSWORD|MCP_SERVERS/i;

/** The bad value helps the operator, but secrets (and passwords inside URLs) stay out of logs. */
function shownValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return ' (value hidden)';
  return ` (got ${JSON.stringify(value.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@'))})`;
}

/** Refinement for app configs: a prefix chosen for Redis Cluster must carry a hash tag. */
export function checkClusterPrefix(config: { VOLLEY_PREFIX?: string | undefined; REDIS_CLUSTER_NODES?: string[] | undefined }, ctx: z.RefinementCtx): void {
  if (config.REDIS_CLUSTER_NODES && config.VOLLEY_PREFIX !== undefined && !hasHashTag(config.VOLLEY_PREFIX)) {
    ctx.addIssue({
      code: 'custom',
      path: ['VOLLEY_PREFIX'],
      message: 'on Redis Cluster the prefix needs a {hash tag}, e.g. {volley}, so each flow stays in one slot',
    });
  }
}

/** The config with `VOLLEY_PREFIX` as in use: the configured one, or the default for its kind of Redis. */
export function withQueuePrefix<C extends { VOLLEY_PREFIX?: string | undefined; REDIS_CLUSTER_NODES?: string[] | undefined }>(
  config: C,
): C & { VOLLEY_PREFIX: string } {
  return { ...config, VOLLEY_PREFIX: queuePrefix(config.VOLLEY_PREFIX, config.REDIS_CLUSTER_NODES !== undefined) };
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
  redisUrl: () => z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
  /** A key prefix; on Redis Cluster it must carry a `{hash tag}` (checked by `checkClusterPrefix`). */
  prefix: () =>
    z
      .string()
      .regex(/^[^:\s]+$/, 'must not contain ":" or spaces')
      .optional(),
  /** `host:port,host:port` seeds of a Redis Cluster. */
  clusterNodes: () =>
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each node is host:port')).min(1))
      .optional(),
  csv: () =>
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
      )
      .default([]),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * How both apps reach Redis and name their keys; spread into their config schemas, which then
 * refine with `checkClusterPrefix` and transform with `withQueuePrefix`.
 */
export const redisEnvSchema = {
  REDIS_URL: env.redisUrl(),
  REDIS_CLUSTER_NODES: env.clusterNodes(),
  VOLLEY_PREFIX: env.prefix(),
  /** Key spaces tasks are spread over (see `KeySpaces`): on Redis Cluster, one per master spreads the load. */
  VOLLEY_SHARDS: z.coerce.number().int().min(1).max(1024).default(1),
  /** Refuse to start unless every Redis server is confirmed `maxmemory-policy noeviction` (else only a warning). */
  VOLLEY_REQUIRE_NOEVICTION: env.boolean(false),
};
