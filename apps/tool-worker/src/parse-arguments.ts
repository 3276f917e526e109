import type { CallError } from '@volley/shared';

export type ParsedArguments = { ok: true; value: Record<string, unknown> } | { ok: false; error: CallError };

/**
 * The model's arguments text → a plain object, or the reason it is not one. Depth is bounded
 * because validators and `JSON.stringify` recurse and a model (or attacker) can nest deeper
 * than the stack allows.
 */
export function parseArguments(text: string, maxDepth: number): ParsedArguments {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail('invalid_arguments_json', `arguments are not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return fail('arguments_not_object', `arguments must be a JSON object, got ${kind}`);
  }
  if (depthExceeds(value, maxDepth)) {
    return fail('arguments_too_deep', `arguments nest deeper than ${maxDepth} levels`);
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function fail(code: string, message: string): ParsedArguments {
  return { ok: false, error: { code, message } };
}

function depthExceeds(root: object, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}
