import { hostname } from 'node:os';
import { checkClusterPrefix, DEFAULT_POOL, env, POOL_NAME_PATTERN, redisEnvSchema, withQueuePrefix } from '@volley/shared';
import { z } from 'zod';
import { mcpServersEnv } from './mcp/mcp-config.ts';

export const workerConfigSchema = z
  .object({
    ...redisEnvSchema,
    VOLLEY_POOL: z.string().regex(POOL_NAME_PATTERN, 'letters, digits, "_" and "-" only').default(DEFAULT_POOL),
    VOLLEY_TOOL_MODULES: env.csv(),
    VOLLEY_BUILTIN_TOOLS: env.boolean(true),
    /** MCP servers whose tools this worker serves: inline JSON or a JSON file's path (see mcp-config.ts). */
    VOLLEY_MCP_SERVERS: mcpServersEnv(),
    VOLLEY_WORKER_CONCURRENCY: env.positiveInt(16),
    VOLLEY_WORKER_ID: z
      .string()
      .regex(/^[^:\s]+$/)
      .optional(),
    VOLLEY_TOOL_TIMEOUT_MS: env.durationMs(60_000),
    VOLLEY_MAX_ARGUMENT_DEPTH: env.positiveInt(64),
    /** UTF-8 bytes of a tool's result (the text the model reads) at most; a larger one is answered `result_too_large`. */
    VOLLEY_MAX_RESULT_BYTES: env.positiveInt(1024 * 1024),
    VOLLEY_REGISTRY_LEASE_MS: env.durationMs(15_000),
    VOLLEY_LOCK_LEASE_MS: env.durationMs(10_000),
    VOLLEY_LOCK_PARK_MS: env.durationMs(5_000),
    /** A call waits this long for its locks at most (then `lock_timeout`); its job's deadline may end the wait sooner. */
    VOLLEY_LOCK_WAIT_TIMEOUT_MS: env.durationMs(300_000),
    /** A call waits this long for a person's approval at most (then it is denied with `approval_timeout`). */
    // At most 12 h: a waiting call keeps its place in lock lines and plans that expire 24 h after their last use.
    VOLLEY_APPROVAL_TIMEOUT_MS: z.coerce.number().int().positive().max(43_200_000, 'at most 43200000 (12 h)').default(3_600_000),
    /** How long past its answer (timeout, cancel) a tool body still running keeps its locks before they go. */
    VOLLEY_ABANDON_AFTER_MS: env.durationMs(30_000),
    /** How often the ended marks of running calls' tasks are read: the bound on hearing of a lost cancel. */
    VOLLEY_CANCEL_POLL_MS: env.durationMs(1_000),
    VOLLEY_JOB_LOCK_MS: env.durationMs(10_000),
    VOLLEY_STALLED_INTERVAL_MS: env.durationMs(5_000),
    VOLLEY_MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(100).default(3),
    VOLLEY_SHUTDOWN_TIMEOUT_MS: env.durationMs(10_000),
    /** How long a task's events (the calls' tool_call.*) are kept after its last one: the orchestrator's task TTL. */
    VOLLEY_TASK_TTL_SECONDS: env.positiveInt(7 * 24 * 3600),
    /** `/metrics`, `/healthz` and `/readyz`; 0 takes any free port (logged as `metricsPort`). */
    VOLLEY_METRICS_PORT: env.port(9464),
    VOLLEY_METRICS_HOST: z.string().default('0.0.0.0'),
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine(checkClusterPrefix)
  .transform((config) => ({
    ...withQueuePrefix(config),
    VOLLEY_WORKER_ID: config.VOLLEY_WORKER_ID ?? `${hostname()}-${process.pid}`,
  }));

export type WorkerConfig = z.infer<typeof workerConfigSchema>;
