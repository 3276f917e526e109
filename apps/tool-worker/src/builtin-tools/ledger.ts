import type { Redis } from 'ioredis';
import { defineTool, ToolError, type ToolContext } from '@volley/tools';
import { z } from 'zod';

/**
 * The built-in example of a side-effecting tool done right. It declares the account it
 * touches (so calls on one account never overlap and keep the model's order), and it closes
 * the window Volley cannot: a worker that dies after the effect but before Volley recorded
 * the result. The append is keyed by `ctx.idempotencyKey`, so a redelivered call applies
 * nothing twice, and it refuses a fencing token lower than one already seen, so a holder that
 * lost its lease (or a body abandoned past its deadline) cannot write late. Accounts are per
 * tenant, like the lock that guards them: tenant acme's `acct-7` is not globex's.
 */
const APPEND_SCRIPT = `
local entries, balance, fence, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local done = redis.call('HGET', seen, ARGV[1])
if done then return {done, 0} end
local token = tonumber(ARGV[3])
if token < tonumber(redis.call('GET', fence) or '0') then return {'', -1} end
redis.call('SET', fence, token)
local total = redis.call('INCRBY', balance, ARGV[2])
local entry = cjson.encode({ amount = tonumber(ARGV[2]), balance = total, fencing_token = token, memo = ARGV[4], worker = ARGV[5], idempotency_key = ARGV[1] })
redis.call('RPUSH', entries, entry)
redis.call('HSET', seen, ARGV[1], entry)
return {entry, 1}
`;

type LedgerRedis = Redis & { volleyLedgerAppend(...args: (string | number)[]): Promise<[string, number]> };

export interface Ledger {
  append(account: string, amount: number, memo: string, ctx: ToolContext): Promise<{ entry: Record<string, unknown>; applied: boolean }>;
  read(account: string, tenant: string | null): Promise<{ balance: number; entries: number }>;
}

/** The resource an account's calls lock (a tenant's own key, as lock keys are by default). */
export const accountResource = (account: string) => `ledger:${account}`;

/** The call's fencing token for the account's resource, whichever shape the tool's claims gave it. */
function tokenFor(ctx: ToolContext, account: string): number {
  const token = ctx.fencingToken;
  if (typeof token === 'number') return token;
  return token?.[accountResource(account)] ?? 0;
}

export function createLedger(deps: { redis: Redis; prefix: string }): Ledger {
  const redis = deps.redis as LedgerRedis;
  if (typeof redis.volleyLedgerAppend !== 'function') {
    redis.defineCommand('volleyLedgerAppend', { numberOfKeys: 4, lua: APPEND_SCRIPT });
  }
  // Tenant names hold no '/' and accounts no '@', so no two tenants' accounts share a key.
  const key = (tenant: string | null, account: string, part: string) => `${deps.prefix}:ledger:${tenant === null ? '' : `@${tenant}/`}${account}:${part}`;
  return {
    async append(account, amount, memo, ctx) {
      const token = tokenFor(ctx, account);
      const [body, state] = await redis.volleyLedgerAppend(
        key(ctx.tenant, account, 'entries'),
        key(ctx.tenant, account, 'balance'),
        key(ctx.tenant, account, 'fence'),
        key(ctx.tenant, account, 'seen'),
        ctx.idempotencyKey,
        amount,
        token,
        memo,
        ctx.workerId,
      );
      if (state === -1) throw new ToolError('a newer holder of this account has written since: this call lost its lock', { code: 'stale_fencing_token' });
      return { entry: JSON.parse(body) as Record<string, unknown>, applied: state === 1 };
    },
    async read(account, tenant) {
      const [balance, entries] = await Promise.all([redis.get(key(tenant, account, 'balance')), redis.llen(key(tenant, account, 'entries'))]);
      return { balance: Number(balance ?? 0), entries };
    },
  };
}

const account = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .describe('Account id, e.g. "acct-7"');

export function ledgerTools(ledger: Ledger) {
  return [
    defineTool({
      name: 'ledger_append',
      description: 'Add an amount (negative to withdraw) to an account of the demo ledger.',
      parameters: z.object({ account, amount: z.number().int(), memo: z.string().max(200).default('') }),
      sideEffects: true,
      resources: ({ account }) => [accountResource(account)],
      async execute({ account, amount, memo }, ctx) {
        const { entry, applied } = await ledger.append(account, amount, memo, ctx);
        return { ...entry, applied_now: applied };
      },
    }),
    defineTool({
      name: 'ledger_balance',
      description: 'Read the balance of an account of the demo ledger.',
      parameters: z.object({ account }),
      resources: ({ account }) => [{ key: accountResource(account), mode: 'read' }],
      execute: async ({ account }, ctx) => ({ account, ...(await ledger.read(account, ctx.tenant)) }),
    }),
  ];
}
