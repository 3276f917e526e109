import type { IncomingHttpHeaders } from 'node:http';

export type PresentedKey = { ok: true; key: string } | { ok: false; problem: string };

export interface PresentedKeyOptions {
  /**
   * Also take the key as the password of HTTP Basic auth (any user name). Browsers prompt for
   * Basic credentials and resend them on every request, so a dashboard can be used without a
   * header-setting extension. Off for the API, which documents Bearer and x-api-key only.
   */
  basic?: boolean;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const BASIC = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i;

/**
 * The API key a request carries: `Authorization: Bearer <key>` or `x-api-key: <key>` (and, with
 * `basic`, `Authorization: Basic base64(<any user>:<key>)`). Both at once must agree. Problems
 * never quote what was sent.
 */
export function presentedKey(headers: IncomingHttpHeaders, options: PresentedKeyOptions = {}): PresentedKey {
  const authorization = headers.authorization;
  const apiKey = headers['x-api-key'];
  if (Array.isArray(apiKey)) return { ok: false, problem: 'more than one x-api-key header' };
  const fromAuthorization =
    authorization === undefined ? undefined : (BEARER.exec(authorization)?.[1] ?? (options.basic ? basicPassword(authorization) : undefined));
  const fromHeader = apiKey?.trim();
  if (authorization !== undefined && fromAuthorization === undefined && fromHeader === undefined) {
    const expected = options.basic ? '"Bearer <API key>", or Basic with the API key as the password' : '"Bearer <API key>"';
    return { ok: false, problem: `the Authorization header must be ${expected}` };
  }
  if (fromAuthorization !== undefined && fromHeader !== undefined && fromAuthorization !== fromHeader) {
    return { ok: false, problem: 'Authorization and x-api-key carry different keys' };
  }
  const key = fromAuthorization ?? fromHeader;
  if (!key) return { ok: false, problem: 'an API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>"' };
  return { ok: true, key };
}

/** The password of `Basic base64(user:password)`; the user name is ignored. */
function basicPassword(authorization: string): string | undefined {
  const encoded = BASIC.exec(authorization)?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password === '' ? undefined : password;
}
