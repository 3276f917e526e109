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
  // By text: Ajv keeps every schema it compiled, and an MCP server lists its tools again (new
  // objects, same schemas) each time it says they changed.
  const text = JSON.stringify(standalone);
  let validator = compiled.get(text);
  if (!validator) {
    const validate = ajv.compile(standalone);
    validator = (args) => (validate(args) ? { ok: true, value: args } : { ok: false, message: describeAjvErrors(validate.errors ?? []) });
    compiled.set(text, validator);
  }
  return validator;
}

const compiled = new Map<string, ArgumentValidator>();

function describeAjvErrors(errors: ErrorObject[]): string {
  return errors
    .slice(0, 10)
    .map((error) => `${error.instancePath || '(arguments)'} ${error.message ?? 'is invalid'}`)
    .join('; ');
}
