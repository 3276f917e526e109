import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { DEFAULT_POOL, errorBody, listLiveWorkers, oneAtATime, type Logger } from '@volley/shared';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Security } from '../auth/security.ts';
import type { FanOutQueue } from '../fan-out/fan-out-queue.ts';
import { listHiddenPage } from './api-docs.ts';
import { errorResponses } from './error-responses.ts';
import { htmlPage } from './page-responses.ts';

/** Where the dashboard lives; its JSON API is under `<path>/api`, its assets under `<path>/static`. */
export const QUEUE_DASHBOARD_PATH = '/admin/queues';

export interface QueueDashboardDeps {
  /** The turn queue and each pool's tool queue: the dashboard reads the very `Queue`s Volley uses. */
  fanOut: FanOutQueue;
  /** For reading the worker registry (which pools exist). */
  redis: Redis;
  security: Security;
  logger: Logger;
  /**
   * How long a read of the registry serves before a dashboard request reads it again.
   * @defaultValue 1000
   */
  poolRefreshMs?: number;
}

/**
 * bull-board at `/admin/queues`, showing the `turns` queue and the `tools-<pool>` queue of every
 * pool. Pools are read from the worker registry when a dashboard request comes in (at most once
 * per `poolRefreshMs`), so a pool whose first worker starts later shows up on the board's next
 * poll. A pool stays on the board once seen: its queue may still hold jobs after its workers go.
 *
 * The board is read-only: retrying, removing or promoting jobs by hand would go around the
 * fan-in, the resource lines and the idempotency records that Volley keeps beside each job.
 *
 * Authentication is the app's (`registerSecurity`, whose `basicAuthUnder` must be this path so a
 * browser can log in with the key as a Basic password); this adds the tenant check of
 * `VOLLEY_DASHBOARD_TENANTS`. Every tenant's jobs are on the board, arguments and results included.
 */
export function registerQueueDashboard(app: FastifyInstance, deps: QueueDashboardDeps): void {
  // With shards, each queue name is there once per shard: the board tells them apart by prefix.
  const sharded = deps.fanOut.spaces.shards.length > 1;
  const adapterOf = (queue: Queue) => new BullMQAdapter(queue, { readOnlyMode: true, ...(sharded ? { prefix: `${queue.opts.prefix}:` } : {}) });
  const serverAdapter = new FastifyAdapter();
  const board = createBullBoard({
    queues: [...deps.fanOut.allTurnQueues(), ...deps.fanOut.allToolQueues(DEFAULT_POOL)].map(adapterOf),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Volley queues' } },
  });

  const shownPools = new Set([DEFAULT_POOL]);
  const refreshMs = deps.poolRefreshMs ?? 1000;
  let readAt = Number.NEGATIVE_INFINITY;
  const readPools = oneAtATime(() =>
    listLiveWorkers(deps.redis, deps.fanOut.spaces.home)
      .then(
        (workers) => {
          for (const { pool } of workers) {
            if (shownPools.has(pool)) continue;
            shownPools.add(pool);
            for (const queue of deps.fanOut.allToolQueues(pool)) board.addQueue(adapterOf(queue));
          }
        },
        // The board still shows the queues it knows; the next request tries again.
        (error: unknown) => deps.logger.warn({ err: error }, 'queue dashboard: reading the worker registry failed'),
      )
      .finally(() => {
        readAt = Date.now();
      }),
  );
  const refreshPools = (): Promise<void> => (Date.now() - readAt < refreshMs ? Promise.resolve() : readPools());

  const allowed = deps.security.dashboardTenants;
  void app.register(async (scope) => {
    // Runs after the app's authentication, which has set `request.caller`.
    scope.addHook('onRequest', async (request, reply) => {
      const tenant = request.caller.tenant;
      if (allowed && (tenant === null || !allowed.has(tenant))) {
        return reply.status(403).send(errorBody('forbidden', 'this API key may not open the queue dashboard (see VOLLEY_DASHBOARD_TENANTS)'));
      }
      await refreshPools();
    });
    listHiddenPage(scope, QUEUE_DASHBOARD_PATH, {
      tags: ['operations'],
      operationId: 'getQueueDashboard',
      summary: 'The queue dashboard (bull-board, read-only)',
      description: 'Takes the API key as a Bearer token or as the password of HTTP Basic auth. Its own JSON API and files are not part of this document.',
      security: [{ bearer: [] }, { basic: [] }],
      response: { 200: htmlPage('The dashboard'), ...errorResponses({ 403: ['forbidden'] }) },
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
