import type { ErrorCode } from '@volley/api-schemas';

/**
 * Codes the client gives when the API gave none: no answer at all (`network_error`, status 0),
 * an error status without Volley's error body (`http_error`, e.g. a proxy's 502 page), or an
 * answer that is not what the API sends (`invalid_response`).
 */
export type ClientErrorCode = 'network_error' | 'http_error' | 'invalid_response';

const VOLLEY_API_ERROR = Symbol.for('volley.api-error');

/**
 * Every failure of a `VolleyClient` call but the caller's own abort (which rejects with the
 * signal's reason, as `fetch` does). `code` is the API's stable code (see README, Error codes);
 * match on it, never on the message.
 */
export class VolleyApiError extends Error {
  readonly [VOLLEY_API_ERROR] = true;
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  readonly code: ErrorCode | ClientErrorCode | (string & {});
  /** Seconds the API asked to wait before trying again (`retry-after` of a 429 or 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: VolleyApiError['code'], message: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'VolleyApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** A brand check rather than `instanceof`: it holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is VolleyApiError {
    return typeof value === 'object' && value !== null && VOLLEY_API_ERROR in value;
  }
}
