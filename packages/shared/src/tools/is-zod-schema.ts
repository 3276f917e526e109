import type { ZodParameters } from '@volley/tools';

/** Tells a tool's zod parameters from a JSON Schema object, without loading zod. */
export function isZodSchema(parameters: unknown): parameters is ZodParameters {
  return (
    typeof parameters === 'object' && parameters !== null && 'safeParse' in parameters && typeof (parameters as { safeParse: unknown }).safeParse === 'function'
  );
}
