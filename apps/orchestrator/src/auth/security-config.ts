import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseApiKeys, type ApiKeyEntry } from './api-keys.ts';
import { parseTenantTools, type TenantTools } from './tenant-tools.ts';

/** Each problem of a variable's text as an issue of that variable; the parse then fails. */
function reported(problems: readonly string[], ctx: z.RefinementCtx): never {
  for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
  return z.NEVER;
}

function keysOf(text: string, ctx: z.RefinementCtx): ApiKeyEntry[] {
  const parsed = parseApiKeys(text);
  return parsed.ok ? parsed.entries : reported(parsed.problems, ctx);
}

const apiKeysText = () => z.string().transform(keysOf);

const apiKeysFile = () =>
  z.string().transform((path, ctx): ApiKeyEntry[] => {
    const file = resolve(path);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      return reported([`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`], ctx);
    }
    return keysOf(text, ctx);
  });

const tenantToolsText = () =>
  z.string().transform((text, ctx): TenantTools => {
    const parsed = parseTenantTools(text);
    return parsed.ok ? parsed.tools : reported(parsed.problems, ctx);
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
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1, 'name at least one tenant'))
    .optional(),
};

/** The security variables as parsed. */
export type SecurityEnv = z.infer<z.ZodObject<typeof securityEnvSchema>>;

/** Checks across the variables, for the config schema's `superRefine`. */
export function checkSecurityEnv(config: SecurityEnv, ctx: z.RefinementCtx): void {
  if (config.VOLLEY_API_KEYS && config.VOLLEY_API_KEYS_FILE) {
    ctx.addIssue({ code: 'custom', path: ['VOLLEY_API_KEYS_FILE'], message: 'set VOLLEY_API_KEYS or VOLLEY_API_KEYS_FILE, not both' });
    return;
  }
  const keys = config.VOLLEY_API_KEYS ?? config.VOLLEY_API_KEYS_FILE;
  checkTenantsHaveKeys('VOLLEY_DASHBOARD_TENANTS', config.VOLLEY_DASHBOARD_TENANTS, keys, ctx);
  checkTenantsHaveKeys('VOLLEY_TENANT_TOOLS', config.VOLLEY_TENANT_TOOLS?.keys(), keys, ctx);
}

/**
 * A variable that names tenants must name tenants that have keys: a misspelt tenant would lock
 * every operator out of the dashboard, or silently leave the real tenant with every tool.
 */
function checkTenantsHaveKeys(variable: string, named: Iterable<string> | undefined, keys: ApiKeyEntry[] | undefined, ctx: z.RefinementCtx): void {
  if (!named) return;
  if (!keys) {
    ctx.addIssue({ code: 'custom', path: [variable], message: 'needs VOLLEY_API_KEYS or VOLLEY_API_KEYS_FILE (without keys there are no tenants)' });
    return;
  }
  const tenants = new Set(keys.map((entry) => entry.tenant));
  const unknown = [...named].filter((tenant) => !tenants.has(tenant));
  if (unknown.length > 0) {
    ctx.addIssue({ code: 'custom', path: [variable], message: `no API key belongs to tenant ${unknown.join(', ')}` });
  }
}
