/** What a running tool call knows about itself. */
export interface ToolContext {
  /** The model's id of this call. */
  toolCallId: string;
  /** The task this call belongs to (a synthetic id for bare `POST /v1/tool-calls` fan-outs). */
  taskId: string;
  /** 1 on the first run, 2 on the first retry or redelivery, … */
  attempt: number;
  /** Fires when the call times out or is cancelled; stop work and let go of resources. */
  signal: AbortSignal;
  /** The worker process running the call. */
  workerId: string;
  /**
   * The tenant whose API key made the call (its task's, or the caller's of `POST /v1/tool-calls`);
   * null when auth is off. A tool that keeps data per tenant keys its store by it.
   */
  tenant: string | null;
  /**
   * Stable across every retry and redelivery of this call. A side-effecting tool uses it to
   * apply its effect once (e.g. a unique key on the write it makes).
   */
  idempotencyKey: string;
  /**
   * For a call holding resource locks: the fencing token of its acquisition — a number when the
   * tool declared one resource, an object keyed by resource (as declared) for several, in every
   * execution mode; absent for a call that declared none. Tokens only grow, so a store that
   * keeps the highest token it has seen can refuse the late write of a holder that lost its
   * lease (or whose body ran on past its answer and was abandoned).
   */
  fencingToken?: number | Record<string, number>;
  /**
   * Reports how far the call got: a JSON-serializable value (at most 4 KiB of JSON) that the
   * task's event stream shows as `tool_call.progress`. Cheap to call often: reports are
   * coalesced (the latest wins, at most one every 100 ms) and never wait. A no-op for calls
   * outside a task.
   */
  progress(value: unknown): void;
}

/** What a tool's `needsApproval` function knows about the call it is asked about. */
export interface ApprovalContext {
  toolCallId: string;
  taskId: string;
  tenant: string | null;
}
