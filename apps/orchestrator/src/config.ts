import { checkClusterPrefix, env, redisEnvSchema, withQueuePrefix } from '@volley/shared';
import { z } from 'zod';
import { checkSecurityEnv, securityEnvSchema } from './auth/security-config.ts';

export const orchestratorConfigSchema = z
  .object({
    ...redisEnvSchema,
    PORT: env.port(3000),
    HOST: z.string().default('0.0.0.0'),
    OPENAI_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    // Local OpenAI-compatible servers often take any key; the SDK insists on one.
    OPENAI_API_KEY: z.string().optional(),
    VOLLEY_MODEL: z.string().default('gpt-4.1-mini'),
    VOLLEY_LLM_TIMEOUT_MS: env.durationMs(120_000),
    VOLLEY_LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
    VOLLEY_MAX_TURNS: env.positiveInt(10),
    VOLLEY_ORCHESTRATOR_CONCURRENCY: env.positiveInt(64),
    VOLLEY_TOOL_CALLS_TIMEOUT_MS: env.durationMs(60_000),
    VOLLEY_MAX_TOOL_CALLS: env.positiveInt(128),
    VOLLEY_MAX_ARGUMENT_BYTES: env.positiveInt(1024 * 1024),
    VOLLEY_TASK_TTL_SECONDS: env.positiveInt(7 * 24 * 3600),
    /** Transcripts kept in memory for the next step of their task, in bytes of their JSON; 0 keeps none. */
    VOLLEY_TRANSCRIPT_CACHE_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
    /** A comment line this often on each open `GET /v1/tasks/:id/events` stream. */
    VOLLEY_EVENTS_HEARTBEAT_MS: env.durationMs(15_000),
    VOLLEY_BODY_LIMIT_BYTES: env.positiveInt(8 * 1024 * 1024),
    // Unset: 16 bodies of the largest size (see `withBodyBudget`).
    VOLLEY_MAX_BODY_BYTES_IN_FLIGHT: z.coerce.number().int().positive().optional(),
    VOLLEY_MAX_BODY_DEPTH: z.coerce.number().int().min(2).max(10_000).default(128),
    VOLLEY_REDIS_COMMAND_TIMEOUT_MS: env.durationMs(3_000),
    VOLLEY_SHUTDOWN_TIMEOUT_MS: env.durationMs(10_000),
    VOLLEY_JOB_LOCK_MS: env.durationMs(10_000),
    VOLLEY_STALLED_INTERVAL_MS: env.durationMs(5_000),
    VOLLEY_MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(100).default(3),
    LOG_LEVEL: env.logLevel(),
    ...securityEnvSchema,
  })
  .refine((config) => config.OPENAI_BASE_URL !== undefined || config.OPENAI_API_KEY !== undefined, {
    path: ['OPENAI_API_KEY'],
    message: 'required when OPENAI_BASE_URL is unset (the default endpoint is api.openai.com)',
  })
  .refine((config) => config.VOLLEY_MAX_BODY_BYTES_IN_FLIGHT === undefined || config.VOLLEY_MAX_BODY_BYTES_IN_FLIGHT >= config.VOLLEY_BODY_LIMIT_BYTES, {
    path: ['VOLLEY_MAX_BODY_BYTES_IN_FLIGHT'],
    message: 'must be at least VOLLEY_BODY_LIMIT_BYTES, or no body of the largest size could ever be read',
  })
  .superRefine(checkSecurityEnv)
  .superRefine(checkClusterPrefix)
  .transform(withQueuePrefix)
  .transform(withBodyBudget);

/** Bodies held at once: `VOLLEY_MAX_BODY_BYTES_IN_FLIGHT`, by default 16 × `VOLLEY_BODY_LIMIT_BYTES` (128 MiB). */
function withBodyBudget<C extends { VOLLEY_BODY_LIMIT_BYTES: number; VOLLEY_MAX_BODY_BYTES_IN_FLIGHT?: number | undefined }>(
  config: C,
): C & { VOLLEY_MAX_BODY_BYTES_IN_FLIGHT: number } {
  return { ...config, VOLLEY_MAX_BODY_BYTES_IN_FLIGHT: config.VOLLEY_MAX_BODY_BYTES_IN_FLIGHT ?? 16 * config.VOLLEY_BODY_LIMIT_BYTES };
}

export type OrchestratorConfig = z.infer<typeof orchestratorConfigSchema>;
