import type { CallRecord } from '@volley/api-schemas';
import type { CallOutcome } from './tool-call-batcher.ts';

const VOLLEY_TOOL_CALL_ERROR = Symbol.for('volley.tool-call-error');

/**
 * A call that the cluster answered with an error: the tool threw or timed out, its arguments
 * failed the schema, it needed an approval it did not carry. Its `message` is the error tool
 * message Volley renders (JSON with `code`, `message` and a `hint`), so a framework that shows
 * the model `error.message` shows it what a Volley task would; match on `code`.
 */
export class VolleyToolCallError extends Error {
  readonly [VOLLEY_TOOL_CALL_ERROR] = true;
  readonly toolCallId: string;
  /** Volley's code for the failure (see README, Error codes), e.g. `tool_error`, `tool_timeout`, `approval_required`. */
  readonly code: string;
  /** The call's record: status, pool, worker, attempts, timings, error. */
  readonly record: CallRecord;

  constructor(outcome: CallOutcome) {
    super(outcome.content);
    this.name = 'VolleyToolCallError';
    this.toolCallId = outcome.record.id;
    this.code = outcome.record.error?.code ?? 'tool_error';
    this.record = outcome.record;
  }

  /**
   * Just the message: the AI SDK renders a tool error for the model as `String(error)`, and the
   * model should read Volley's error message unchanged, without a class name in front.
   */
  override toString(): string {
    return this.message;
  }

  /** A brand check rather than `instanceof`: it holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is VolleyToolCallError {
    return typeof value === 'object' && value !== null && VOLLEY_TOOL_CALL_ERROR in value;
  }
}

/** Whether the cluster ran the call to a result (anything else is an error tool message). */
export function succeeded(outcome: CallOutcome): boolean {
  return outcome.record.status === 'succeeded';
}
