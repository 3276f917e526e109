import type { IncomingHttpHeaders } from 'node:http';

export type PresentedKey = { ok: true; key: string } | { ok: false; problem: string };

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The API key a request carries: `Authorization: Bearer <key>` or `x-api-key: <key>`. Both at
 * once must agree. Problems never quote what was sent.
 */
export function presentedKey(headers: IncomingHttpHeaders): PresentedKey {
  const authorization = headers.authorization;
  const apiKey = headers['x-api-key'];
  if (Array.isArray(apiKey)) return { ok: false, problem: 'more than one x-api-key header' };
  const bearer = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
  const fromHeader = apiKey?.trim();
  if (authorization !== undefined && bearer === undefined && fromHeader === undefined) {
    return { ok: false, problem: 'the Authorization header must be "Bearer <API key>"' };
  }
  if (bearer !== undefined && fromHeader !== undefined && bearer !== fromHeader) {
    return { ok: false, problem: 'Authorization and x-api-key carry different keys' };
  }
  const key = bearer ?? fromHeader;
  if (!key) return { ok: false, problem: 'an API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>"' };
  return { ok: true, key };
}
