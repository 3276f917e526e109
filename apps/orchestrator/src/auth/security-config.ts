import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseApiKeys, type ApiKeyEntry } from './api-keys.ts';
import { parseTenantTools, type TenantTools } from './tenant-tools.ts';

const apiKeysText = () =>
  z.string().transform((text, ctx): ApiKeyEntry[] => {
    const parsed = parseApiKeys(text);
    if (parsed.ok) return parsed.entries;
    for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  });

const apiKeysFile = () =>
  z.string().transform((path, ctx): ApiKeyEntry[] => {
    let text: string;
    try {
      text = readFileSync(resolve(path), 'utf8');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `cannot read ${resolve(path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
      return z.NEVER;
    }
    const parsed = parseApiKeys(text);
    if (parsed.ok) return parsed.entries;
    for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  });

const tenantToolsText = () =>
  z.string().transform((text, ctx): TenantTools => {
    const parsed = parseTenantTools(text);
    if (parsed.ok) return parsed.tools;
    for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  });

/**
 * The orchestrator's security variables, spread into its config schema. Both key variables
 * hold `KEY` in their names, so `parseEnv` never prints their values.
 */
export const securityEnvSchema = {
  /** `key:tenant` pairs, comma-separated. */
  VOLLEY_API_KEYS: apiKeysText().optional(),
  /** A file of `key:tenant` pairs, one a line or comma-separated, `#` comments; read at start, then again when it changes or on SIGHUP (see `watchApiKeysFile`). */
  VOLLEY_API_KEYS_FILE: apiKeysFile().optional(),
  /** `tenant=tool_a|tool_b;other=*`; tenants not named may use every tool. */
  VOLLEY_TENANT_TOOLS: tenantToolsText().optional(),
  /** Task submissions per minute per tenant; 0 turns the limit off. */
  VOLLEY_TASK_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(600),
  /** Tenants whose keys may open the queue dashboard (comma-separated); unset: every key. */
  VOLLEY_DASHBOARD_TENANTS: z
    .string()
    .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))
    .pipe(z.array(z.string()).min(1, 'name at least one tenant'))
    .optional(),
};

type SecurityEnv = {
  VOLLEY_API_KEYS?: ApiKeyEntry[] | undefined;
  VOLLEY_API_KEYS_FILE?: ApiKeyEntry[] | undefined;
  VOLLEY_TENANT_TOOLS?: TenantTools | undefined;
  VOLLEY_DASHBOARD_TENANTS?: string[] | undefined;
};

/** Checks across the variables, for the config schema's `superRefine`. */
export function checkSecurityEnv(config: SecurityEnv, ctx: z.RefinementCtx): void {
  if (config.VOLLEY_API_KEYS && config.VOLLEY_API_KEYS_FILE) {
    ctx.addIssue({ code: 'custom', path: ['VOLLEY_API_KEYS_FILE'], message: 'set VOLLEY_API_KEYS or VOLLEY_API_KEYS_FILE, not both' });
    return;
  }
  const keys = config.VOLLEY_API_KEYS ?? config.VOLLEY_API_KEYS_FILE;
  checkDashboardTenants(config.VOLLEY_DASHBOARD_TENANTS, keys, ctx);
  if (!config.VOLLEY_TENANT_TOOLS) return;
  if (!keys) {
    ctx.addIssue({
      code: 'custom',
      path: ['VOLLEY_TENANT_TOOLS'],
      message: 'needs VOLLEY_API_KEYS or VOLLEY_API_KEYS_FILE (without keys there are no tenants)',
    });
    return;
  }
  // A misspelt tenant would silently leave the real one with every tool.
  const tenants = new Set(keys.map((entry) => entry.tenant));
  const unknown = [...config.VOLLEY_TENANT_TOOLS.keys()].filter((tenant) => !tenants.has(tenant));
  if (unknown.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['VOLLEY_TENANT_TOOLS'], message: `no API key belongs to tenant ${unknown.join(', ')}` });
  }
}

/** Like the tool rules: a misspelt tenant would lock every operator out, so it is a config error. */
function checkDashboardTenants(dashboardTenants: string[] | undefined, keys: ApiKeyEntry[] | undefined, ctx: z.RefinementCtx): void {
  if (!dashboardTenants) return;
  if (!keys) {
    ctx.addIssue({
      code: 'custom',
      path: ['VOLLEY_DASHBOARD_TENANTS'],
      message: 'needs VOLLEY_API_KEYS or VOLLEY_API_KEYS_FILE (without keys there are no tenants)',
    });
    return;
  }
  const tenants = new Set(keys.map((entry) => entry.tenant));
  const unknown = dashboardTenants.filter((tenant) => !tenants.has(tenant));
  if (unknown.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['VOLLEY_DASHBOARD_TENANTS'], message: `no API key belongs to tenant ${unknown.join(', ')}` });
  }
}
