import { errorBody, type Logger } from '@volley/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiKeyring } from './api-keys.ts';
import type { SecurityEnv } from './security-config.ts';
import { ANONYMOUS_CALLER, type Caller } from './caller.ts';
import { presentedKey } from './presented-key.ts';
import { TaskRateLimit } from './task-rate-limit.ts';
import { allowedToolsOf, type TenantTools } from './tenant-tools.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request: set before anything else runs (see `registerSecurity`). */
    caller: Caller;
  }
}

/** Everything that decides who may do what; built at start from the config. */
export interface Security {
  /**
   * Null: auth is off, every request is the anonymous caller. Read on every request, since a
   * key file's keys are swapped in when it changes (see `watchApiKeysFile`).
   */
  keyring: ApiKeyring | null;
  tenantTools: TenantTools;
  /** Null: task submissions are not limited. */
  taskRateLimit: TaskRateLimit | null;
  /** Tenants whose keys may open the queue dashboard; null: every valid key. */
  dashboardTenants: ReadonlySet<string> | null;
}

export interface SecurityOptions {
  /**
   * Routes under this path (the queue dashboard) also take the key as the password of HTTP
   * Basic auth, and their 401 asks for Basic credentials, so a browser prompts for them.
   */
  basicAuthUnder?: string;
  /**
   * More routes anyone may open, matched exactly by their route pattern (not a prefix): pages
   * that hold no data (the timeline page's files), whose API calls carry the key themselves.
   */
  publicRoutes?: readonly string[];
}

/** Routes anyone may call: probes and the Prometheus scrape must work without a key. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The `POST` routes that create a task, each drawing on the tenant's one task bucket, matched by
 * route pattern. A door that creates tasks is listed here; a route not registered (yet) is never
 * matched, since its requests have no route.
 */
export const TASK_CREATING_ROUTES: readonly string[] = ['/v1/tasks', '/v1/chat/completions', '/v1/responses'];

/** Builds the security policy and says in the log what it is (auth off is a warning). */
export function createSecurity(config: SecurityEnv, deps: { redis: Redis; prefix: string; logger: Logger }): Security {
  const entries = config.VOLLEY_API_KEYS ?? config.VOLLEY_API_KEYS_FILE;
  const keyring = entries ? new ApiKeyring(entries) : null;
  const tenantTools = config.VOLLEY_TENANT_TOOLS ?? new Map();
  const perMinute = config.VOLLEY_TASK_RATE_LIMIT;
  const taskRateLimit = perMinute > 0 ? new TaskRateLimit({ redis: deps.redis, prefix: deps.prefix, perMinute }) : null;
  const rateLimit = taskRateLimit ? `${perMinute} tasks/minute per tenant` : 'off';
  const dashboardTenants = config.VOLLEY_DASHBOARD_TENANTS ? new Set(config.VOLLEY_DASHBOARD_TENANTS) : null;
  if (keyring) {
    deps.logger.info(
      {
        keys: keyring.size,
        tenants: [...keyring.tenants].sort(),
        restricted_tenants: [...tenantTools].flatMap(([tenant, tools]) => (tools ? [tenant] : [])).sort(),
        task_rate_limit: rateLimit,
        dashboard_tenants: dashboardTenants ? [...dashboardTenants].sort() : 'every tenant',
      },
      'API key authentication on',
    );
  } else {
    deps.logger.warn(
      { task_rate_limit: rateLimit },
      'API key authentication is OFF (neither VOLLEY_API_KEYS nor VOLLEY_API_KEYS_FILE is set): anyone who reaches this port can submit tasks, call tools and read every task',
    );
  }
  return { keyring, tenantTools, taskRateLimit, dashboardTenants };
}

/**
 * Adds, ahead of every route: who the caller is (401 without a valid key, except for the
 * probes), then the rate limit on the routes that create tasks (429 with `retry-after`). Both run before
 * the body is read, so a refused client costs no parsing.
 */
export function registerSecurity(app: FastifyInstance, security: Security, logger: Logger, options: SecurityOptions = {}): void {
  app.decorateRequest('caller', null as unknown as Caller);
  const publicRoutes = new Set([...PUBLIC_ROUTES, ...(options.publicRoutes ?? [])]);
  app.addHook('onRequest', async (request, reply) => {
    request.caller = ANONYMOUS_CALLER;
    const route = request.routeOptions.url ?? '';
    if (!security.keyring || publicRoutes.has(route)) return;
    // By the matched route, not the raw path: only the dashboard's own routes take Basic.
    const basic = options.basicAuthUnder !== undefined && isUnder(route, options.basicAuthUnder);
    const presented = presentedKey(request.headers, { basic });
    const tenant = presented.ok ? security.keyring.tenantOf(presented.key) : undefined;
    if (tenant === undefined) {
      const problem = presented.ok ? 'invalid API key' : presented.problem;
      // The path only: a client may have put a key in the query string, where it is not read.
      const path = request.url.split('?', 1)[0];
      logger.info({ method: request.method, path, ip: request.ip, problem }, 'request refused: unauthorized');
      return reply
        .status(401)
        .header('www-authenticate', basic ? 'Basic realm="volley", charset="UTF-8"' : 'Bearer realm="volley"')
        .send(errorBody('unauthorized', problem));
    }
    request.caller = { tenant, tools: allowedToolsOf(security.tenantTools, tenant) };
  });
  if (security.taskRateLimit) {
    const limit = security.taskRateLimit;
    const limited = new Set(TASK_CREATING_ROUTES);
    app.addHook('onRequest', async (request, reply) => {
      if (request.method !== 'POST' || !limited.has(request.routeOptions.url ?? '')) return;
      return limitTaskSubmission(limit, request, reply, logger);
    });
  }
}

async function limitTaskSubmission(limit: TaskRateLimit, request: FastifyRequest, reply: FastifyReply, logger: Logger) {
  const decision = await limit.take(request.caller.tenant);
  // On every answer the bucket counted, as GitHub and OpenAI do, so a client can pace itself
  // before it is refused. Reset is in seconds from now: the bucket runs on Redis's clock, which
  // a client's clock need not agree with.
  reply.header('x-ratelimit-limit', String(decision.limit));
  reply.header('x-ratelimit-remaining', String(decision.remaining));
  reply.header('x-ratelimit-reset', String(Math.ceil(decision.resetMs / 1000)));
  if (decision.allowed) return;
  const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  const who = request.caller.tenant === null ? 'anonymous callers' : `tenant ${request.caller.tenant}`;
  logger.info({ tenant: request.caller.tenant, retry_after_s: retryAfterSeconds }, 'task submission refused: rate limited');
  return reply
    .status(429)
    .header('retry-after', String(retryAfterSeconds))
    .send(errorBody('rate_limited', `${who} may submit ${limit.perMinute} tasks a minute; retry in ${retryAfterSeconds} s`));
}

function isUnder(route: string, path: string): boolean {
  return route === path || route.startsWith(`${path}/`);
}
