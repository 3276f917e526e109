import {
  checkEvictionPolicyOrExit,
  createLogger,
  settlesWithin,
  createRedis,
  KeySpaces,
  redisTargetOf,
  loadEnvOrExit,
  Metrics,
  parseEnv,
  startTelemetry,
  TaskEvents,
  waitForRedisOrExit,
} from '@volley/shared';
import { buildApp } from './app.ts';
import { watchApiKeysFile } from './auth/api-keys-file-watch.ts';
import { createSecurity } from './auth/security.ts';
import { orchestratorConfigSchema } from './config.ts';
import { FanInInbox } from './fan-out/fan-in-inbox.ts';
import { FanInWaiters } from './fan-out/fan-in-waiters.ts';
import { FanOutQueue } from './fan-out/fan-out-queue.ts';
import { RedisGate } from './http/redis-gate.ts';
import { isRedisUnavailable } from './http/redis-unavailable.ts';
import { createRequestRedis, whenRedisReady } from './http/request-redis.ts';
import { instrumentModelClient } from './metrics/instrument-model-client.ts';
import { registerQueueMetrics } from './metrics/queue-metrics.ts';
import { countTasks } from './metrics/task-metrics.ts';
import { TaskIndex } from './tasks/task-index.ts';
import { TaskStore } from './tasks/task-store.ts';
import { ToolCatalog } from './tools/tool-catalog.ts';
import { createOpenAIModelClient } from './turn/model-client.ts';
import { startTurnWorker } from './turn/turn-worker.ts';

const config = loadEnvOrExit(orchestratorConfigSchema);
const redisTarget = redisTargetOf(config);
const logger = createLogger('orchestrator', config.LOG_LEVEL);
const telemetry = startTelemetry({ serviceName: 'volley-orchestrator', env: process.env });
const spaces = new KeySpaces(config.VOLLEY_PREFIX, config.VOLLEY_SHARDS);
const prefix = spaces.home;

// Two kinds of connection. The engine's (task steps, BullMQ's Worker, metrics' reads) waits a
// Redis outage out: its commands queue until Redis is back, so no step is lost. Request
// handling's times out: no HTTP request waits on Redis longer than VOLLEY_REDIS_COMMAND_TIMEOUT_MS,
// and while Redis does not answer, requests are refused at the door (see RedisGate).
const redis = createRedis(redisTarget);
await waitForRedisOrExit(redis, logger);
await checkEvictionPolicyOrExit(redis, logger, { strict: config.VOLLEY_REQUIRE_NOEVICTION });
const requestRedis = createRequestRedis(redisTarget, config.VOLLEY_REDIS_COMMAND_TIMEOUT_MS);
// Once both are up, the engine's connection logs each failed attempt; this one would repeat it.
let requestRedisReady = false;
requestRedis.on('error', (error) => logger[requestRedisReady ? 'debug' : 'warn']({ err: error, connection: 'requests' }, 'redis connection error'));
await whenRedisReady(requestRedis);
requestRedisReady = true;
const redisGate = new RedisGate({
  // The engine's PING waits as long as Redis takes, so it is answered the moment Redis is back.
  probe: async () => {
    await redis.ping();
    await whenRedisReady(requestRedis);
  },
  logger,
});
// bullmq 6.7 runs some of its checks inside async Promise executors (Job.waitUntilFinished's
// "finished already?" in job.js, which fan-outs once used), so when such a
// command fails — on request handling's connection, a timeout during an outage — the rejection
// escapes unhandled. That must not stop the process. Any other unhandled rejection still does,
// as Node's default would.
process.on('unhandledRejection', (reason) => {
  if (!isRedisUnavailable(reason)) throw reason;
  logger.warn({ err: reason }, 'unhandled rejection: redis unavailable');
});
const security = createSecurity(config, { redis: requestRedis, prefix, logger });
const stopWatchingKeys = config.VOLLEY_API_KEYS_FILE
  ? watchApiKeysFile({
      security,
      path: process.env.VOLLEY_API_KEYS_FILE!,
      readKeys: () => parseEnv(orchestratorConfigSchema, process.env).VOLLEY_API_KEYS_FILE!,
      logger,
    })
  : () => undefined;
const metrics = new Metrics({ onCollectError: (collector, error) => logger.warn({ err: error, collector }, 'metrics collector failed') });
const onTransition = countTasks(metrics);
const store = new TaskStore({
  redis,
  spaces,
  ttlSeconds: config.VOLLEY_TASK_TTL_SECONDS,
  onTransition,
  transcriptCacheBytes: config.VOLLEY_TRANSCRIPT_CACHE_BYTES,
});
const catalog = new ToolCatalog({ redis, prefix });
const events = new TaskEvents({ redis, spaces, ttlSeconds: config.VOLLEY_TASK_TTL_SECONDS });
const fanOut = new FanOutQueue({ connection: redis, spaces });
// The same, over request handling's connection, for the routes. A Queue or FlowProducer shares
// the connection it is given (BullMQ duplicates only for blocking commands, and neither blocks).
const requestStore = new TaskStore({ redis: requestRedis, spaces, ttlSeconds: config.VOLLEY_TASK_TTL_SECONDS, onTransition });
const requestIndex = new TaskIndex({ redis: requestRedis, prefix, ttlSeconds: config.VOLLEY_TASK_TTL_SECONDS });
const requestCatalog = new ToolCatalog({ redis: requestRedis, prefix });
const requestFanOut = new FanOutQueue({ connection: requestRedis, spaces });
const requestEvents = new TaskEvents({ redis: requestRedis, spaces, ttlSeconds: config.VOLLEY_TASK_TTL_SECONDS });
// Scrapes read on the engine's connection: a scrape gives up on a slow read after 2 s by itself,
// and each collector keeps one read in flight at most, so an outage leaves one read per collector
// waiting, not one per scrape (a timed-out command would leave its own behind each time).
registerQueueMetrics(metrics, { redis, prefix, queuesOf: (pool) => fanOut.allToolQueues(pool), turns: fanOut.allTurnQueues() });
const fanInWaiters = new FanInWaiters();
const inbox = new FanInInbox({ spaces, waiters: fanInWaiters, logger });
// The inbox blocks on stream reads: connections of its own, without a command timeout.
inbox.listen(() => createRedis(redisTarget));
const model = createOpenAIModelClient({
  apiKey: config.OPENAI_API_KEY ?? 'not-needed',
  timeoutMs: config.VOLLEY_LLM_TIMEOUT_MS,
  maxRetries: config.VOLLEY_LLM_MAX_RETRIES,
  ...(config.OPENAI_BASE_URL ? { baseURL: config.OPENAI_BASE_URL } : {}),
});

const turnWorker = startTurnWorker({
  store,
  catalog,
  fanOut,
  events,
  model: instrumentModelClient(model, metrics),
  logger,
  connection: redis,
  concurrency: config.VOLLEY_ORCHESTRATOR_CONCURRENCY,
  jobLockMs: config.VOLLEY_JOB_LOCK_MS,
  stalledIntervalMs: config.VOLLEY_STALLED_INTERVAL_MS,
  maxStalledCount: config.VOLLEY_MAX_STALLED_COUNT,
  maxArgumentBytes: config.VOLLEY_MAX_ARGUMENT_BYTES,
});

const app = buildApp({
  store: requestStore,
  index: requestIndex,
  catalog: requestCatalog,
  fanOut: requestFanOut,
  events: requestEvents,
  eventStreams: { blockingRedis: () => createRedis(redisTarget), spaces, heartbeatMs: config.VOLLEY_EVENTS_HEARTBEAT_MS },
  fanInWaiters,
  inbox,
  redis: requestRedis,
  redisGate,
  logger,
  bodyLimitBytes: config.VOLLEY_BODY_LIMIT_BYTES,
  bodyBytesInFlight: config.VOLLEY_MAX_BODY_BYTES_IN_FLIGHT,
  maxBodyDepth: config.VOLLEY_MAX_BODY_DEPTH,
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
logger.info(
  { address, model: config.VOLLEY_MODEL, openaiBaseUrl: config.OPENAI_BASE_URL ?? 'default', ...(spaces.shards.length > 1 ? { shards: spaces.shards } : {}) },
  'orchestrator ready',
);

let stopping: Promise<void> | undefined;
/** Stop taking requests, let running steps finish up to a deadline, then close connections. */
function shutdown(signal: string): Promise<void> {
  stopping ??= (async () => {
    logger.info({ signal }, 'orchestrator stopping');
    stopWatchingKeys();
    await app.close().catch((error) => logger.warn({ err: error }, 'http close failed'));
    redisGate.close();
    if (!(await settlesWithin(turnWorker.close(), config.VOLLEY_SHUTDOWN_TIMEOUT_MS))) {
      await turnWorker.close(true).catch(() => undefined);
    }
    await Promise.allSettled([inbox.close(), fanOut.close(), requestFanOut.close()]);
    await Promise.allSettled([redis.quit(), requestRedis.quit().catch(() => requestRedis.disconnect())]);
    await telemetry.shutdown();
    logger.info('orchestrator stopped');
  })();
  return stopping;
}
process.on('SIGTERM', () => void shutdown('SIGTERM').then(() => process.exit(0)));
process.on('SIGINT', () => void shutdown('SIGINT').then(() => process.exit(0)));
