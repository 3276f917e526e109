import { ERROR_STATUS, type ErrorCode } from '@volley/api-schemas';

const VOLLEY_ERROR = Symbol.for('volley.error');

/** An error with a stable code; `isInstance` survives duplicate copies of this package. */
export class VolleyError extends Error {
  readonly [VOLLEY_ERROR] = true;
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VolleyError';
    this.code = code;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  static isInstance(value: unknown): value is VolleyError {
    return typeof value === 'object' && value !== null && VOLLEY_ERROR in value;
  }
}
