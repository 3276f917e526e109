import type { Logger } from '@volley/shared';
import type { FastifyInstance, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { z } from 'zod';
import { describeZodError } from './error-handler.ts';

/**
 * Makes the zod schemas of a route's `schema` (body, querystring, params, headers, response)
 * what Fastify validates and serializes with; `fastify-type-provider-zod` types the handlers
 * from the same schemas, and `@fastify/swagger` documents them (see `registerApiDocs`).
 */
export function useZodSchemas(app: FastifyInstance, logger: Logger): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(createResponseSerializer(logger));
}

/**
 * Parses a request part with its zod schema; the parsed value (coerced, defaults filled in)
 * replaces the raw one. A failure is the `ZodError` itself, not the type provider's flattened
 * issues (paths as JSON pointers): the error handler answers it 400 `invalid_request` with the
 * same text a handler's own `parse` always gave.
 */
const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, method, url, httpPart }) => {
  const zod = zodSchemaOf(schema, `the ${httpPart} schema of ${method} ${url}`);
  return (data) => {
    const parsed = zod.safeParse(data);
    return parsed.success ? { value: parsed.data } : { error: parsed.error };
  };
};

/**
 * Encodes a response with its zod schema (fields the schema does not name are left out, as
 * Fastify does with JSON Schema). An answer that does not match is a bug in the document, not in
 * the answer: it is logged as an error and sent as it is, never turned into a 500.
 */
function createResponseSerializer(logger: Logger): FastifySerializerCompiler<unknown> {
  return ({ schema, method, url, httpStatus }) => {
    const zod = zodSchemaOf(schema, `the ${httpStatus} response schema of ${method} ${url}`);
    return (data) => encodeAnswer(zod, data, logger, { method, url, status: httpStatus });
  };
}

/**
 * An answer's JSON text as its zod schema encodes it: what a route's serializer sends, and what
 * a route that streams its answer sends in an event. One that does not match is logged and
 * sent as it is.
 */
export function encodeAnswer(schema: z.ZodType, data: unknown, logger: Logger, where: { method: string; url: string; status?: string | undefined }): string {
  const encoded = z.safeEncode(schema, data);
  if (encoded.success) return JSON.stringify(encoded.data);
  // The issues only: the answer may hold a tenant's data.
  logger.error({ ...where, issues: describeZodError(encoded.error) }, 'response does not match its documented schema; sent as it is');
  return JSON.stringify(data);
}

/** A JSON Schema among zod schemas would be served undocumented and unchecked: refused at start. */
function zodSchemaOf(schema: unknown, what: string): z.ZodType {
  if (schema instanceof z.ZodType) return schema;
  throw new Error(`${what} is not a zod schema: routes declare their schemas with zod (see README, "Declaring a route")`);
}
