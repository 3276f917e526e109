import { errorBodySchema } from '@volley/api-schemas';
import type { VolleyClientOptions } from './client-options.ts';
import { VolleyApiError } from './volley-api-error.ts';

export interface SendOptions {
  query?: URLSearchParams;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/**
 * One place where requests are made and answers become values or `VolleyApiError`s: the base
 * URL, the API key and default headers are applied here, so every call of the client (and any
 * adapter built on it) fails the same way.
 */
export class HttpTransport {
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;

  constructor(options: VolleyClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseURL);
    } catch {
      throw new TypeError(`VolleyClient: baseURL must be an absolute URL, got ${JSON.stringify(options.baseURL)}`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`VolleyClient: baseURL must be http(s), got ${base.protocol}`);
    // A path prefix (an API behind a proxy under /volley) must stay: relative paths resolve inside it.
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    this.base = base;
    this.headers = { ...options.headers, ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('VolleyClient: no fetch (pass options.fetch on a runtime without a global one)');
    this.fetch = fetchImpl;
  }

  /** The answer of a request that succeeded (2xx); anything else throws a `VolleyApiError`. */
  async send(method: string, path: string, options: SendOptions = {}): Promise<Response> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    if (options.query) url.search = options.query.toString();
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers, ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw asNetworkError(error, options.signal, `${method} ${url.pathname}`);
    }
    if (!response.ok) throw await errorOf(response, options.signal);
    return response;
  }

  /** As `send`, with the answer's JSON body (typed by the caller from the API's schemas). */
  async json<T>(method: string, path: string, options: SendOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw asNetworkError(error, options.signal, `${method} ${path}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new VolleyApiError(response.status, 'invalid_response', `${method} ${path}: the answer is not JSON`, { cause: error });
    }
  }
}

/** The caller's abort stays what it is (the signal's reason); any other failure to talk is a `network_error`. */
export function asNetworkError(error: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted || VolleyApiError.isInstance(error)) return error;
  return new VolleyApiError(0, 'network_error', `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** The `VolleyApiError` of a non-2xx answer: the API's own code and message when its body has them. */
export async function errorOf(response: Response, signal?: AbortSignal): Promise<unknown> {
  const retryAfter = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
  const extra = Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {};
  let text = '';
  try {
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) return error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const body = errorBodySchema.safeParse(json);
  if (body.success) return new VolleyApiError(response.status, body.data.error.code, body.data.error.message, extra);
  return new VolleyApiError(response.status, 'http_error', `HTTP ${response.status} ${response.statusText}`.trim(), extra);
}
