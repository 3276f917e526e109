import { createLogger, settlesWithin, createRedis, redisTargetOf, loadEnvOrExit, Metrics, parseEnv, startTelemetry, TURN_QUEUE, waitForRedisOrExit } from '@volley/shared';
import { QueueEvents } from 'bullmq';
import { buildApp } from './app.ts';
import { watchApiKeysFile } from './auth/api-keys-file-watch.ts';
import { createSecurity } from './auth/security.ts';
import { orchestratorConfigSchema } from './config.ts';
import { FanInWaiters } from './fan-out/fan-in-waiters.ts';
import { FanOutQueue } from './fan-out/fan-out-queue.ts';
import { instrumentModelClient } from './metrics/instrument-model-client.ts';
import { registerQueueMetrics } from './metrics/queue-metrics.ts';
import { countTasks } from './metrics/task-metrics.ts';
import { TaskStore } from './tasks/task-store.ts';
import { ToolCatalog } from './tools/tool-catalog.ts';
import { createOpenAIModelClient } from './turn/model-client.ts';
import { startTurnWorker } from './turn/turn-worker.ts';

const config = loadEnvOrExit(orchestratorConfigSchema);
const redisTarget = redisTargetOf(config);
const logger = createLogger('orchestrator', config.LOG_LEVEL);
const telemetry = startTelemetry({ serviceName: 'volley-orchestrator', env: process.env });
const prefix = config.VOLLEY_PREFIX;

const redis = createRedis(redisTarget);
await waitForRedisOrExit(redis, logger);
const security = createSecurity(config, { redis, prefix, logger });
const stopWatchingKeys = config.VOLLEY_API_KEYS_FILE
  ? watchApiKeysFile({
      security,
      path: process.env.VOLLEY_API_KEYS_FILE!,
      readKeys: () => parseEnv(orchestratorConfigSchema, process.env).VOLLEY_API_KEYS_FILE!,
      logger,
    })
  : () => undefined;
const metrics = new Metrics({ onCollectError: (collector, error) => logger.warn({ err: error, collector }, 'metrics collector failed') });
const store = new TaskStore({ redis, prefix, ttlSeconds: config.VOLLEY_TASK_TTL_SECONDS, onTransition: countTasks(metrics) });
const catalog = new ToolCatalog({ redis, prefix });
const fanOut = new FanOutQueue({ connection: redis, prefix });
registerQueueMetrics(metrics, { redis, prefix, queueOf: (pool) => fanOut.toolQueue(pool), turns: fanOut.turns });
// QueueEvents blocks on a stream read, so it gets a connection of its own.
const fanInWaiters = new FanInWaiters();
const turnEvents = new QueueEvents(TURN_QUEUE, { connection: createRedis(redisTarget), prefix });
const model = createOpenAIModelClient({
  apiKey: config.OPENAI_API_KEY ?? 'not-needed',
  timeoutMs: config.VOLLEY_LLM_TIMEOUT_MS,
  maxRetries: config.VOLLEY_LLM_MAX_RETRIES,
  ...(config.OPENAI_BASE_URL ? { baseURL: config.OPENAI_BASE_URL } : {}),
});

await turnEvents.waitUntilReady();
const turnWorker = startTurnWorker({
  store,
  catalog,
  fanOut,
  model: instrumentModelClient(model, metrics),
  prefix,
  logger,
  connection: redis,
  concurrency: config.VOLLEY_ORCHESTRATOR_CONCURRENCY,
  jobLockMs: config.VOLLEY_JOB_LOCK_MS,
  stalledIntervalMs: config.VOLLEY_STALLED_INTERVAL_MS,
  maxStalledCount: config.VOLLEY_MAX_STALLED_COUNT,
  fanInWaiters,
  maxArgumentBytes: config.VOLLEY_MAX_ARGUMENT_BYTES,
});

const app = buildApp({
  store,
  catalog,
  fanOut,
  turnEvents,
  fanInWaiters,
  redis,
  logger,
  bodyLimitBytes: config.VOLLEY_BODY_LIMIT_BYTES,
  security,
  metrics,
  defaults: { model: config.VOLLEY_MODEL, maxTurns: config.VOLLEY_MAX_TURNS },
  limits: {
    maxToolCalls: config.VOLLEY_MAX_TOOL_CALLS,
    defaultTimeoutMs: config.VOLLEY_TOOL_CALLS_TIMEOUT_MS,
    maxArgumentBytes: config.VOLLEY_MAX_ARGUMENT_BYTES,
  },
});
const address = await app.listen({ port: config.PORT, host: config.HOST });
logger.info({ address, model: config.VOLLEY_MODEL, openaiBaseUrl: config.OPENAI_BASE_URL ?? 'default' }, 'orchestrator ready');

let stopping: Promise<void> | undefined;
/** Stop taking requests, let running steps finish up to a deadline, then close connections. */
function shutdown(signal: string): Promise<void> {
  stopping ??= (async () => {
    logger.info({ signal }, 'orchestrator stopping');
    stopWatchingKeys();
    await app.close().catch((error) => logger.warn({ err: error }, 'http close failed'));
    if (!(await settlesWithin(turnWorker.close(), config.VOLLEY_SHUTDOWN_TIMEOUT_MS))) {
      await turnWorker.close(true).catch(() => undefined);
    }
    await Promise.allSettled([turnEvents.close(), fanOut.close()]);
    await redis.quit().catch(() => undefined);
    await telemetry.shutdown();
    logger.info('orchestrator stopped');
  })();
  return stopping;
}
process.on('SIGTERM', () => void shutdown('SIGTERM').then(() => process.exit(0)));
process.on('SIGINT', () => void shutdown('SIGINT').then(() => process.exit(0)));
