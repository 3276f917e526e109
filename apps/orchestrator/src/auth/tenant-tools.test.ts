import { describe, expect, it } from 'vitest';
import { allowedToolsOf, parseTenantTools } from './tenant-tools.ts';

describe('parseTenantTools', () => {
  describe('when the rules are well formed', () => {
    it('maps each tenant to its tools, or to null for *', () => {
      const parsed = parseTenantTools(' acme = get_weather | get_time ; globex=* ;');
      expect(parsed.ok).toBe(true);
      const tools = parsed.ok ? parsed.tools : new Map();
      expect([...tools.keys()]).toEqual(['acme', 'globex']);
      expect([...tools.get('acme')!]).toEqual(['get_weather', 'get_time']);
      expect(tools.get('globex')).toBeNull();
    });
  });

  describe('when rules are wrong', () => {
    it.each([
      ['a rule without =', 'acme', 'expected tenant=tool_a|tool_b'],
      ['a bad tenant name', 'the acme=echo', 'not a tenant name'],
      ['a tenant named twice', 'acme=echo;acme=nap', 'acme: named twice'],
      ['no tools', 'acme=', 'acme: names no tool'],
      ['* among tools', 'acme=echo|*', 'acme: * stands alone'],
      ['a bad tool name', 'acme=echo|get weather', 'acme: not tool names: "get weather"'],
      ['nothing', ' ; ', 'names no tenant'],
    ])('reports %s', (_what, text, problem) => {
      const parsed = parseTenantTools(text);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.problems[0]).toContain(problem);
    });

    it('reports every problem at once', () => {
      const parsed = parseTenantTools('acme=;globex=a b;acme=echo');
      expect(!parsed.ok && parsed.problems).toHaveLength(2);
    });
  });
});

describe('allowedToolsOf', () => {
  const policy = new Map([
    ['acme', new Set(['echo'])],
    ['globex', null],
  ]);

  it.each([
    ['a restricted tenant', 'acme', ['echo']],
    ['a tenant allowed *', 'globex', null],
    ['a tenant the rules do not name', 'initech', null],
    ['no tenant (auth off)', null, null],
  ])('answers for %s', (_what, tenant, expected) => {
    const allowed = allowedToolsOf(policy, tenant);
    expect(allowed === null ? null : [...allowed]).toEqual(expected);
  });
});
