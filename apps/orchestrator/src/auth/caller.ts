/**
 * Who sent a request. `tenant` is null only when auth is off (no API keys configured): every
 * caller is then the same anonymous one and sees everything.
 */
export interface Caller {
  tenant: string | null;
  /** The tools this caller may see, offer and call; null means every tool. */
  tools: ReadonlySet<string> | null;
}

export const ANONYMOUS_CALLER: Caller = Object.freeze({ tenant: null, tools: null });

export function mayUseTool(caller: Caller, name: string): boolean {
  return caller.tools === null || caller.tools.has(name);
}
