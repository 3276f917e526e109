import { VolleyError } from '@volley/shared';
import type { FastifyInstance } from 'fastify';

/**
 * The `application/json` parser of every route: Fastify's own (secure-json-parse, which with
 * Fastify's defaults refuses `__proto__` keys and `constructor.prototype` with 400 `invalid_json`),
 * behind a nesting bound. `JSON.parse` copes with a 100,000-deep document, but what comes after
 * does not: the first `JSON.stringify` of a record holding it (the task store's, the reply's)
 * overflows the stack, a 500 long after the request was accepted. A body nested deeper than
 * `maxDepth` is a 400 `invalid_request` before it is parsed.
 */
export function parseJsonBodies(app: FastifyInstance, options: { maxDepth: number }): void {
  // Fastify's defaults (onProtoPoisoning / onConstructorPoisoning 'error'), which the app keeps.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    if (nestsDeeperThan(body, options.maxDepth)) {
      done(new VolleyError('invalid_request', `body: JSON nested deeper than ${options.maxDepth} levels (VOLLEY_MAX_BODY_DEPTH)`), undefined);
      return;
    }
    parseJson(request, body, done);
  });
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether JSON text opens more than `maxDepth` objects or arrays inside one another (`{}` is
 * depth 1). One pass, without parsing: strings are skipped with `indexOf`, so brackets inside
 * them do not count and string-heavy bodies (transcripts) cost little. Text that is not JSON may
 * be answered either way; the parser then refuses it.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (char === QUOTE) {
      // To the quote that ends the string: one not escaped by an odd run of backslashes (an
      // even run escapes itself). Each run is walked once, so this stays linear.
      for (;;) {
        const quote = text.indexOf('"', index + 1);
        if (quote === -1) return false;
        let backslashes = 0;
        while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
        index = quote;
        if (backslashes % 2 === 0) break;
      }
    } else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return false;
}
