import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { isZodSchema } from '@volley/shared';
import type { Tool } from '@volley/tools';
import { z } from 'zod';

export type ValidationResult = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };
export type ArgumentValidator = (args: Record<string, unknown>) => ValidationResult;

// ajv-formats is CommonJS: under ESM its default import is the plugin function itself.
const addFormats = addFormatsModule as unknown as FormatsPlugin;

/**
 * One Ajv instance per process: schemas compile once, at load. `strict: false` because real
 * tool schemas (the BFCL corpus, users' OpenAI JSON) carry annotations and quirks that strict
 * mode refuses, such as `required` keys never declared under `properties`.
 */
const ajv = new Ajv2020({ strict: false, allErrors: true, useDefaults: false });
addFormats(ajv);

export function compileArgumentValidator(tool: Tool): ArgumentValidator {
  const parameters = tool.parameters;
  if (isZodSchema(parameters)) {
    return (args) => {
      const parsed = parameters.safeParse(args);
      return parsed.success ? { ok: true, value: parsed.data } : { ok: false, message: z.prettifyError(parsed.error) };
    };
  }
  // Compiled standalone: a `$schema` of another draft or an `$id` two tools share must not
  // make Ajv look the schema up or refuse it as a duplicate.
  const { $schema: _schema, $id: _id, ...standalone } = parameters;
  const validate = ajv.compile(standalone);
  return (args) =>
    validate(args) ? { ok: true, value: args } : { ok: false, message: describeAjvErrors(validate.errors ?? []) };
}

function describeAjvErrors(errors: ErrorObject[]): string {
  return errors
    .slice(0, 10)
    .map((error) => `${error.instancePath || '(arguments)'} ${error.message ?? 'is invalid'}`)
    .join('; ');
}
