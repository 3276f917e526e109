import fastifySwagger, { type SwaggerTransformObject } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from './error-responses.ts';
import { htmlPage } from './page-responses.ts';

/** The API's description, OpenAPI 3.1. */
export const OPENAPI_PATH = '/openapi.json';
/** The reference page (Swagger UI, its files served from the package: no CDN). */
export const DOCS_PATH = '/docs';

/**
 * The routes of the document and its page, matched exactly: they describe the API and hold no
 * data, so anyone may read them, as the timeline page (see `registerSecurity`'s `publicRoutes`).
 * The page's "Try it out" sends the key the reader enters under "Authorize".
 */
export const DOCS_ROUTES: readonly string[] = [
  OPENAPI_PATH,
  DOCS_PATH,
  `${DOCS_PATH}/`,
  `${DOCS_PATH}/json`,
  `${DOCS_PATH}/yaml`,
  `${DOCS_PATH}/static/*`,
  `${DOCS_PATH}/static/index.html`,
  `${DOCS_PATH}/static/swagger-initializer.js`,
];

/**
 * Swagger UI's own policy without its allowances for other hosts (https: fonts and styles, the
 * online validator): the page loads nothing but this origin. Inline styles are let through (some
 * of its components set one); scripts are this origin's files only.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; base-uri 'self'; font-src 'self' data:; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; connect-src 'self'";

const TAGS = [
  { name: 'tasks', description: 'Agent tasks: the model ⇄ tools loop, run on the cluster.' },
  { name: 'tool-calls', description: 'One fan-out of tool calls, without a model.' },
  { name: 'tools', description: 'The tools live workers serve.' },
  { name: 'approvals', description: "Calls waiting for a person's decision." },
  { name: 'openai', description: 'OpenAI-compatible routes: Chat Completions and Responses over the same tasks.' },
  { name: 'operations', description: 'Probes, metrics, the pages.' },
];

export interface ApiDocsOptions {
  /** Routes anyone may call: the document says so (`security: []`) instead of asking for a key. */
  publicRoutes: ReadonlySet<string>;
  version: string;
}

/**
 * `GET /openapi.json` and `GET /docs`, built from the routes' own zod schemas (see
 * `useZodSchemas`). Registered ahead of the routes: `@fastify/swagger` learns of a route when it
 * is added, so the routes go in a plugin registered after this one (see `buildApp`).
 */
export function registerApiDocs(app: FastifyInstance, options: ApiDocsOptions): void {
  const fromZod = createJsonSchemaTransform({ skipList: [] });
  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Volley',
        version: options.version,
        description:
          'Runs an LLM\'s parallel tool calls across a BullMQ/Redis cluster. Errors are always JSON `{"error": {"code", "message"}}` ' +
          'with the status of their code; besides the statuses each operation lists, a request Node cannot read answers 400, 408 `request_timeout` ' +
          'or 431 `headers_too_large`, and an unknown route 404 `route_not_found`. Times are epoch milliseconds.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key of `VOLLEY_API_KEYS` (needed only when keys are configured).' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same key in `x-api-key`.' },
          basic: {
            type: 'http',
            scheme: 'basic',
            description: 'The queue dashboard only: any user name, the API key as the password (so a browser can log in).',
          },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
      tags: TAGS,
    },
    transform: (document) => {
      const transformed = fromZod(document);
      if (!options.publicRoutes.has(document.url)) return transformed;
      return { ...transformed, schema: { ...transformed.schema, security: [] } };
    },
    transformObject: (document) => withoutUnusedSchemas(jsonSchemaTransformObject(document)),
  });

  void app.register(async (docs) => {
    docs.get(
      OPENAPI_PATH,
      {
        schema: {
          tags: ['operations'],
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          response: {
            200: z
              .looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) })
              .describe('OpenAPI 3.1')
              .meta({ examples: [{ openapi: '3.1.0', info: { title: 'Volley', version: options.version }, paths: {} }] }),
            ...errorResponses({}, { auth: false }),
          },
        },
      },
      async () => docs.swagger(),
    );
    listHiddenPage(docs, DOCS_PATH, docsPageSchema);
    await docs.register(fastifySwaggerUi, {
      routePrefix: DOCS_PATH,
      staticCSP: CONTENT_SECURITY_POLICY,
      theme: { title: 'Volley API' },
      uiConfig: { deepLinking: true, persistAuthorization: false },
    });
  });
}

type OpenApiDocument = ReturnType<SwaggerTransformObject>;

/**
 * A plugin that serves a page (Swagger UI, bull-board) hides all its routes from the document;
 * the page itself is one to list, with `schema`, while its files and internal API stay out.
 * Call it on the scope the plugin is registered in, before registering it.
 */
export function listHiddenPage(scope: FastifyInstance, url: string, schema: FastifySchema): void {
  scope.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === url && String(route.method).toUpperCase() === 'GET') route.schema = { ...route.schema, ...schema, hide: false };
  });
}

const docsPageSchema: FastifySchema = {
  tags: ['operations'],
  operationId: 'getDocsPage',
  summary: 'The reference page of this API',
  description: 'Swagger UI over `/openapi.json`; its files are served from here, nothing from another host.',
  response: { 200: htmlPage('The page'), ...errorResponses({}, { auth: false }) },
};

/**
 * The type provider writes every schema of the zod registry twice (as read and as written, the
 * former named `…Input`); only those the document refers to are kept.
 */
function withoutUnusedSchemas(document: OpenApiDocument): OpenApiDocument {
  const components = (document as { components?: { schemas?: Record<string, unknown> } }).components;
  const schemas = components?.schemas ?? {};
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/schemas/')) {
        const name = child.slice('#/components/schemas/'.length);
        if (!used.has(name)) {
          used.add(name);
          visit(schemas[name]);
        }
      } else {
        visit(child);
      }
    }
  };
  visit({ ...document, components: { ...components, schemas: {} } });
  return {
    ...document,
    components: { ...components, schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name))) },
  } as OpenApiDocument;
}
