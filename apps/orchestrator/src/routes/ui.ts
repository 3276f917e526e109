import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../http/error-responses.ts';
import { contentResponse, noBody } from '../http/page-responses.ts';

/** Where the timeline page lives. */
export const UI_PATH = '/ui';

/** The page's files, each with its content type: the whole of it (no build step, no CDN). */
const UI_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'timeline.js': 'text/javascript; charset=utf-8',
  'sse.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/**
 * The routes that serve the page, matched exactly: they hold no data, so they are public (see
 * `registerSecurity`'s `publicRoutes`); every API call the page makes carries the key.
 */
export const UI_ROUTES: readonly string[] = [
  UI_PATH,
  `${UI_PATH}/`,
  ...Object.keys(UI_FILES)
    .filter((name) => name !== 'index.html')
    .map((name) => `${UI_PATH}/${name}`),
];

/**
 * Nothing but this origin: no CDN, no external font, no inline script; the page works offline
 * and a stray third-party request is refused by the browser.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface UiFile {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * `GET /ui/`: the timeline page (the tenant's tasks; for one task a live waterfall fed by its
 * event stream, with Approve / Deny on waiting calls). Its few files are read once at start and
 * served from memory with an ETag and `cache-control: no-cache`, so a browser revalidates
 * (a 304) and always runs the files of the orchestrator it talks to.
 */
export function registerUiRoutes(app: FastifyInstance): void {
  const files = new Map<string, UiFile>();
  for (const [name, type] of Object.entries(UI_FILES)) {
    const body = readFileSync(new URL(`../ui/${name}`, import.meta.url));
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }

  const errors = errorResponses({}, { auth: false });
  app.get(
    UI_PATH,
    { schema: { tags: ['operations'], operationId: 'redirectToUi', summary: 'To the timeline page', response: { 301: noBody('To `/ui/`'), ...errors } } },
    async (_request, reply) => reply.redirect(`${UI_PATH}/`, 301),
  );
  for (const [name, type] of Object.entries(UI_FILES)) {
    const file = files.get(name)!;
    const url = name === 'index.html' ? `${UI_PATH}/` : `${UI_PATH}/${name}`;
    const schema = {
      tags: ['operations'],
      operationId: name === 'index.html' ? 'getUiPage' : `getUi_${name.replace(/\W/g, '_')}`,
      summary: name === 'index.html' ? "The timeline page: the tenant's tasks, and each one's live waterfall" : `The timeline page's ${name}`,
      response: {
        200: contentResponse(type.split(';')[0]!, name),
        304: noBody('Not modified: the `if-none-match` ETag is current'),
        ...errors,
      },
    };
    app.get(url, { schema }, async (request, reply) => {
      reply
        .header('content-type', file.type)
        .header('cache-control', 'no-cache')
        .header('etag', file.etag)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('referrer-policy', 'no-referrer');
      if (request.headers['if-none-match'] === file.etag) return reply.status(304).send();
      return reply.send(file.body);
    });
  }
}
