/**
 * A resource key written over a call's arguments: `"file:{path}"`, `"row:{table}/{id}"`,
 * `"doc:{target.id}"` (a dotted name reads into nested objects). The argument's value goes in
 * as written, so two spellings of one file (`a/b` and `a/./b`) are two keys: a server whose
 * arguments have many spellings wants a coarser key.
 */
export interface ResourceTemplate {
  /** The arguments' top-level names the template reads, to check against the tool's schema. */
  readonly names: readonly string[];
  render(args: Record<string, unknown>): string;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const NAME = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;

export function compileResourceTemplate(template: string): ResourceTemplate {
  const parts: Array<string | string[]> = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    if (!NAME.test(name)) throw new TypeError(`template ${JSON.stringify(template)}: {${name}} is not an argument name`);
    parts.push(template.slice(last, match.index), name.split('.'));
    last = match.index + match[0].length;
  }
  const rest = template.slice(last);
  if (/[{}]/.test(rest) || parts.some((part) => typeof part === 'string' && /[{}]/.test(part))) {
    throw new TypeError(`template ${JSON.stringify(template)} has an unmatched brace`);
  }
  parts.push(rest);
  const names = [...new Set(parts.filter((part) => Array.isArray(part)).map((path) => path[0]!))];
  return {
    names,
    render(args) {
      return parts.map((part) => (typeof part === 'string' ? part : valueAt(args, part, template))).join('');
    },
  };
}

function valueAt(args: Record<string, unknown>, path: readonly string[], template: string): string {
  let value: unknown = args;
  for (const key of path) {
    value =
      typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  // A key that silently read "undefined" would make unrelated calls share (or miss) a lock.
  throw new TypeError(`${template}: the argument ${path.join('.')} is ${value === undefined ? 'missing' : 'not a string, number or boolean'}`);
}
