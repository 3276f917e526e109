/**
 * Stable error codes. HTTP clients see them as `{error: {code, message}}`; the model sees the
 * tool-call ones inside an error tool message. Control flow matches on codes, never on text.
 */
export const ERROR_STATUS = {
  // HTTP request errors
  invalid_json: 400,
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  request_timeout: 408,
  headers_too_large: 431,
  duplicate_tool_call_id: 400,
  no_tool_calls: 400,
  too_many_tool_calls: 400,
  unknown_tool: 400,
  tool_definition_mismatch: 400,
  unsupported_parameter: 400,
  response_not_found: 404,
  invalid_idempotency_key: 400,
  idempotency_key_reused: 422,
  idempotency_key_in_use: 409,
  task_not_finished: 409,
  unknown_tool_call: 400,
  already_decided: 409,
  task_ended: 409,
  redis_unavailable: 503,
  overloaded: 503,
  internal_error: 500,
  // Tool-call errors: they travel inside tool messages, the status is what a lone call would get
  invalid_arguments_json: 422,
  arguments_not_object: 422,
  arguments_schema_violation: 422,
  arguments_too_deep: 422,
  arguments_too_large: 413,
  tool_error: 500,
  tool_timeout: 504,
  lock_timeout: 409,
  tool_crashed: 500,
  result_not_serializable: 500,
  // Tools of MCP servers: the tool said it failed (isError), its server is down or restarting
  // (retryable), or the server refused the call or broke the protocol
  mcp_tool_error: 502,
  mcp_server_unavailable: 503,
  mcp_protocol_error: 502,
  // A call that needs a person's approval: refused (no task to wait in), denied, or never decided
  approval_required: 403,
  denied: 403,
  approval_timeout: 408,
  // Task-level errors
  llm_error: 502,
  max_turns_exceeded: 409,
  step_failed: 500,
  task_timeout: 504,
  cancelled: 409,
  config_invalid: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

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

  static isInstance(value: unknown): value is ToolError {
    return typeof value === 'object' && value !== null && TOOL_ERROR in value;
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
