import { z } from 'zod';

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
  // The tool ran, but its result is past the worker's VOLLEY_MAX_RESULT_BYTES: dropped, not retried
  result_too_large: 500,
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

/** A stable code and a message: how a call or a task failed, and what an error answer holds. */
export const callErrorSchema = z.object({ code: z.string(), message: z.string().describe('For people: never match on it, match on `code`.') });
export type CallError = z.infer<typeof callErrorSchema>;

/** Every error answer of the HTTP API: `{error: {code, message}}`. */
export const errorBodySchema = z.object({ error: callErrorSchema });
export type ErrorBody = z.infer<typeof errorBodySchema>;

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
