import { createHash } from 'node:crypto';

const MAX_LENGTH = 64;
const HASH_LENGTH = 8;

/**
 * The Volley name of an MCP server's tool: `<server>__<tool>`, made to fit `^[a-zA-Z0-9_-]{1,64}$`.
 * MCP names may hold `.` and `/` (and, before 2025-11-25, anything): those become `_`. A name
 * still too long keeps its first characters and ends with a hash of the whole, so two long
 * names that share a beginning stay apart; names that still meet are a start-up error.
 */
export function mcpToolName(server: string, tool: string): string {
  const full = `${server}__${tool.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
  if (full.length <= MAX_LENGTH) return full;
  const hash = createHash('sha256').update(`${server}\u0000${tool}`).digest('hex').slice(0, HASH_LENGTH);
  return `${full.slice(0, MAX_LENGTH - HASH_LENGTH - 1)}_${hash}`;
}
