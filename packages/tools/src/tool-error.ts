const TOOL_ERROR = Symbol.for('volley.tool-error');

/**
 * What a tool throws to say how it failed. Plain errors are not retried: the model is the
 * retry loop and tools have effects. `retryable: true` lets Volley retry the call itself.
 */
export class ToolError extends Error {
  readonly [TOOL_ERROR] = true;
  readonly code: string;
  readonly retryable: boolean;

  constructor(message: string, options: { code?: string; retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ToolError';
    this.code = options.code ?? 'tool_error';
    this.retryable = options.retryable ?? false;
  }

  /** A brand check rather than `instanceof`: it holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is ToolError {
    return typeof value === 'object' && value !== null && TOOL_ERROR in value;
  }
}
