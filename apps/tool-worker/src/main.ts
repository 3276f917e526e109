import {
  Approvals,
  checkEvictionPolicyOrExit,
  FanInReplies,
  createLogger,
  createRedis,
  KeySpaces,
  settlesWithin,
  redisTargetOf,
  loadEnvOrExit,
  Metrics,
  startTelemetry,
  registerWorker,
  ShardWorkers,
  toolQueueName,
  type ToolCallResult,
  type WorkerRegistration,
  waitForRedisOrExit,
} from '@volley/shared';
import { builtinTools } from './builtin-tools/index.ts';
import { workerConfigSchema } from './config.ts';
import { loadToolModules } from './load-tool-modules.ts';
import { CallEvents } from './call-events.ts';
import { CallResults } from './call-results.ts';
import { deliverFinalFailure } from './deliver-final-failure.ts';
import { CancelledCalls } from './cancelled-calls.ts';
import { PickupCheck } from './pickup-check.ts';
import { blockerApproval } from './approvals/blocker-approval.ts';
import { JobWaker } from './locks/job-waker.ts';
import { OverrunHolds } from './locks/overrun-holds.ts';
import { ResourceLocks } from './locks/resource-locks.ts';
import { createLockMetrics } from './metrics/lock-metrics.ts';
import { startStatusServer } from './metrics/status-server.ts';
import { createToolCallMetrics } from './metrics/tool-call-metrics.ts';
import type { McpServers } from './mcp/mcp-servers.ts';
import { createToolCallProcessor } from './run-tool-call.ts';
import { LiveToolSet } from './live-tool-set.ts';

const config = loadEnvOrExit(workerConfigSchema);
const redisTarget = redisTargetOf(config);
const logger = createLogger('tool-worker', config.LOG_LEVEL);
const telemetry = startTelemetry({ serviceName: 'volley-tool-worker', env: process.env });

const fromModules = await loadToolModules(config.VOLLEY_TOOL_MODULES, process.cwd()).catch(exitWith);
const redis = createRedis(redisTarget);
await waitForRedisOrExit(redis, logger);
await checkEvictionPolicyOrExit(redis, logger, { strict: config.VOLLEY_REQUIRE_NOEVICTION });
// Once Redis answers (as the orchestrator listens), so bad credentials are reported before a busy port.
const metrics = new Metrics();
const status = await startStatusServer({ metrics, ping: () => redis.ping(), port: config.VOLLEY_METRICS_PORT, host: config.VOLLEY_METRICS_HOST }).catch(
  (error: Error) => exitWith(new Error(`cannot serve metrics on VOLLEY_METRICS_PORT ${config.VOLLEY_METRICS_PORT}: ${error.message}`)),
);
const spaces = new KeySpaces(config.VOLLEY_PREFIX, config.VOLLEY_SHARDS);
const prefix = spaces.home;
const builtins = config.VOLLEY_BUILTIN_TOOLS ? builtinTools({ redis, prefix }).map((tool) => ({ tool, source: `builtin:${tool.name}` })) : [];
let live: LiveToolSet | undefined;
let registration: WorkerRegistration | undefined;
// A server's tools change after boot (tools/list_changed, a restart): serve and publish the new set.
const onMcpToolsChanged = () => {
  if (!live) return;
  try {
    if (!live.rebuild()) return;
  } catch (error) {
    logger.error({ err: error }, 'tools not updated: the changed MCP tools do not fit the others; serving the previous set');
    return;
  }
  logger.info({ tools: [...live.tools.keys()] }, 'tools changed');
  registration?.updateTools(live.published()).catch((error: unknown) => logger.warn({ err: error }, 'changed tools not published'));
};
// Loaded only when servers are configured: the SDK adds a good part of a second to a worker's start
// on a busy machine, and replacement workers should come up fast.
const mcp: McpServers | undefined =
  config.VOLLEY_MCP_SERVERS.length === 0
    ? undefined
    : await import('./mcp/mcp-servers.ts')
        .then(({ McpServers }) => McpServers.start(config.VOLLEY_MCP_SERVERS, { logger, onChange: onMcpToolsChanged }))
        .catch(exitWith);
try {
  live = new LiveToolSet([...builtins, ...fromModules], () => mcp?.sources() ?? []);
} catch (error) {
  await mcp?.close();
  exitWith(error);
}
const tools = live.tools;
if (tools.size === 0) exitWith(new Error('no tools to serve: set VOLLEY_TOOL_MODULES, VOLLEY_MCP_SERVERS or VOLLEY_BUILTIN_TOOLS=true'));

const queue = toolQueueName(config.VOLLEY_POOL);
const waker = new JobWaker({ connection: redis });
const locks = new ResourceLocks({ redis, prefix, leaseMs: config.VOLLEY_LOCK_LEASE_MS });
const lockMetrics = createLockMetrics(metrics);
const approvals = new Approvals({ redis, spaces });
const locking = {
  locks,
  waker,
  results: new CallResults({ redis, prefix }),
  overruns: new OverrunHolds({ locks, waker, abandonAfterMs: config.VOLLEY_ABANDON_AFTER_MS, logger, onAbandoned: lockMetrics.bodyAbandoned }),
  parkMs: config.VOLLEY_LOCK_PARK_MS,
  lockWaitTimeoutMs: config.VOLLEY_LOCK_WAIT_TIMEOUT_MS,
  blockerApproval: blockerApproval({ redis, approvals }),
  logger,
};
const cancelled = new CancelledCalls();
const replies = new FanInReplies({ redis });
const subscriber = redis.duplicate();
// One Worker per shard, one concurrency budget: see ShardWorkers.
const worker = new ShardWorkers<unknown, ToolCallResult>(
  spaces,
  queue,
  createToolCallProcessor({
    tools,
    workerId: config.VOLLEY_WORKER_ID,
    defaultTimeoutMs: config.VOLLEY_TOOL_TIMEOUT_MS,
    maxArgumentDepth: config.VOLLEY_MAX_ARGUMENT_DEPTH,
    maxResultBytes: config.VOLLEY_MAX_RESULT_BYTES,
    logger,
    locking,
    cancelled,
    pickup: new PickupCheck({ redis }),
    approvals: {
      approvals,
      redis,
      spaces,
      timeoutMs: config.VOLLEY_APPROVAL_TIMEOUT_MS,
      parkMs: config.VOLLEY_LOCK_PARK_MS,
      logger,
    },
    metrics: createToolCallMetrics(metrics),
    events: new CallEvents({ redis, spaces, ttlSeconds: config.VOLLEY_TASK_TTL_SECONDS, logger }),
    replies,
  }),
  {
    connection: redis,
    concurrency: config.VOLLEY_WORKER_CONCURRENCY,
    // A dead worker's calls go back to the queue within seconds, not BullMQ's default 30 s.
    lockDuration: config.VOLLEY_JOB_LOCK_MS,
    stalledInterval: config.VOLLEY_STALLED_INTERVAL_MS,
    // A call whose worker keeps dying is tried this often before it is gathered as crashed.
    maxStalledCount: config.VOLLEY_MAX_STALLED_COUNT,
  },
);
worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
worker.on('failed', deliverFinalFailure({ replies, logger }));
await worker.waitUntilReady();
// A cancelled call running here sees its AbortSignal fire; later ones are answered without running.
await cancelled.listen(subscriber, prefix, logger);
const stopCancelPoll = cancelled.poll(redis, spaces, config.VOLLEY_CANCEL_POLL_MS, logger);

const registered = live.published();
registration = await registerWorker(
  redis,
  prefix,
  {
    id: config.VOLLEY_WORKER_ID,
    pool: config.VOLLEY_POOL,
    queue,
    concurrency: config.VOLLEY_WORKER_CONCURRENCY,
    started_at: Date.now(),
    tools: registered,
  },
  { leaseMs: config.VOLLEY_REGISTRY_LEASE_MS, onError: (error) => logger.warn({ err: error }, 'registry heartbeat failed') },
);
// A server's tools that changed while the registration was on its way had no registration to update.
if (JSON.stringify(live.published()) !== JSON.stringify(registered)) await registration.updateTools(live.published());

logger.info(
  {
    workerId: config.VOLLEY_WORKER_ID,
    pool: config.VOLLEY_POOL,
    queue,
    concurrency: config.VOLLEY_WORKER_CONCURRENCY,
    ...(spaces.shards.length > 1 ? { shards: spaces.shards } : {}),
    tools: [...tools.keys()],
    metricsPort: status.port,
    ...(mcp ? { mcpServers: mcp.pids() } : {}),
  },
  'worker ready',
);

let stopping: Promise<void> | undefined;
/** Leave the registry first so no new calls are routed here, then let running calls finish. */
function shutdown(signal: string): Promise<void> {
  stopping ??= (async () => {
    logger.info({ signal }, 'worker stopping');
    const deadline = Date.now() + config.VOLLEY_SHUTDOWN_TIMEOUT_MS;
    status.markStopping();
    await registration?.stop().catch((error) => logger.warn({ err: error }, 'registry removal failed'));
    const clean = await settlesWithin(worker.close(), config.VOLLEY_SHUTDOWN_TIMEOUT_MS);
    stopCancelPoll();
    if (!clean) {
      // Left active, the calls' job locks lapse and BullMQ hands them to other workers; finishing
      // them here as failed or cancelled would end them for good.
      logger.warn({ timeoutMs: config.VOLLEY_SHUTDOWN_TIMEOUT_MS }, 'running calls did not finish in time; forcing close');
    }
    // Tool bodies running past their answer keep their locks: they get what is left of the time.
    await locking.overruns.drain(deadline - Date.now());
    // After the calls: a call still running to a server needs it to answer.
    await mcp?.close();
    await waker.close();
    await telemetry.shutdown();
    if (clean) {
      await subscriber.quit().catch(() => undefined);
      await redis.quit().catch(() => undefined);
    } else {
      subscriber.disconnect();
      redis.disconnect();
    }
    await status.close();
    logger.info('worker stopped');
  })();
  return stopping;
}
process.on('SIGTERM', () => void shutdown('SIGTERM').then(() => process.exit(0)));
process.on('SIGINT', () => void shutdown('SIGINT').then(() => process.exit(0)));

function exitWith(error: unknown): never {
  process.stderr.write(`tool-worker: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
