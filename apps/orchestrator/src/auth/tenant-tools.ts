import { TENANT_NAME_PATTERN, TOOL_NAME_PATTERN } from '@volley/shared';

/**
 * Which tools each tenant may use: a tenant that is absent, or mapped to null (`*`), may use
 * every tool; otherwise only the named ones.
 */
export type TenantTools = ReadonlyMap<string, ReadonlySet<string> | null>;

export type ParsedTenantTools = { ok: true; tools: TenantTools } | { ok: false; problems: string[] };

/** Parses `tenant=tool_a|tool_b;other=*`. */
export function parseTenantTools(text: string): ParsedTenantTools {
  const problems: string[] = [];
  const tools = new Map<string, ReadonlySet<string> | null>();
  const rules = text
    .split(';')
    .map((rule) => rule.trim())
    .filter(Boolean);
  for (const rule of rules) {
    const equals = rule.indexOf('=');
    if (equals < 0) {
      problems.push(`${JSON.stringify(rule)}: expected tenant=tool_a|tool_b or tenant=*`);
      continue;
    }
    const tenant = rule.slice(0, equals).trim();
    const names = rule
      .slice(equals + 1)
      .split('|')
      .map((name) => name.trim())
      .filter(Boolean);
    if (!TENANT_NAME_PATTERN.test(tenant)) {
      problems.push(`${JSON.stringify(tenant)}: not a tenant name (letters, digits, '_', '.', '-')`);
    } else if (tools.has(tenant)) {
      problems.push(`${tenant}: named twice`);
    } else if (names.length === 0) {
      problems.push(`${tenant}: names no tool (use * for every tool)`);
    } else if (names.includes('*')) {
      if (names.length > 1) problems.push(`${tenant}: * stands alone`);
      else tools.set(tenant, null);
    } else {
      const bad = names.filter((name) => !TOOL_NAME_PATTERN.test(name));
      if (bad.length > 0) problems.push(`${tenant}: not tool names: ${bad.map((name) => JSON.stringify(name)).join(', ')}`);
      else tools.set(tenant, new Set(names));
    }
  }
  if (problems.length === 0 && rules.length === 0) problems.push('names no tenant');
  return problems.length > 0 ? { ok: false, problems } : { ok: true, tools };
}

/** The tools a tenant may use; null means every tool (also when auth is off: no tenant). */
export function allowedToolsOf(policy: TenantTools, tenant: string | null): ReadonlySet<string> | null {
  return tenant === null ? null : (policy.get(tenant) ?? null);
}
