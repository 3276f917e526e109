import type { z } from 'zod';
import type { JsonSchemaObject } from '../openai-wire.ts';

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

/**
 * A resource a side-effecting call touches; a bare string means write access. Keys are the
 * calling tenant's own (two tenants' `record:7` are two resources) unless `shared: true`, which
 * makes the key one resource for every tenant. Keys may not start with '@' (Volley's own).
 */
export type ResourceClaim = string | { key: string; mode: 'read' | 'write'; shared?: boolean };

/** What a tool's `needsApproval` function knows about the call it is asked about. */
export interface ApprovalContext {
  toolCallId: string;
  taskId: string;
  tenant: string | null;
}

type ZodParameters = z.ZodType<Record<string, unknown>>;

interface ToolBase<Args> {
  /** `^[a-zA-Z0-9_-]{1,64}$`, unique across every pool. */
  name: string;
  description: string;
  /** Returns the tool message's content: a string as is, anything else as its JSON text. */
  execute(args: Args, ctx: ToolContext): unknown;
  /** The tool changes state outside itself. */
  sideEffects?: boolean;
  /** The resources one call touches, derived from its (validated) arguments. */
  resources?: (args: Args) => ResourceClaim[];
  /**
   * A person must approve the call before it runs: always, or as a function of its (validated)
   * arguments. A task's call waits (holding no worker slot) for a decision on
   * `POST /v1/tasks/:id/approvals`; a call of `POST /v1/tool-calls` is answered
   * `approval_required` unless the request lists it in `approved`. A function that throws
   * counts as `true`.
   */
  needsApproval?: boolean | ((args: Args, ctx: ApprovalContext) => boolean | Promise<boolean>);
  /** Per-call time limit; the worker's default applies when unset. */
  timeoutMs?: number;
  /** How often a call that fails with a retryable `ToolError` is tried again. */
  retries?: number;
}

export interface ZodTool<S extends ZodParameters = ZodParameters> extends ToolBase<z.infer<S>> {
  parameters: S;
}

export interface JsonSchemaTool extends ToolBase<Record<string, unknown>> {
  /** A JSON Schema (draft 2020-12) object, as in an OpenAI tool definition. */
  parameters: JsonSchemaObject;
}

/** A tool: a plain object. `defineTool` only adds type inference. */
export type Tool = ZodTool<any> | JsonSchemaTool;

/** Typed identity helper: `execute` receives arguments typed by the zod `parameters`. */
export function defineTool<S extends ZodParameters>(tool: ZodTool<S>): ZodTool<S>;
export function defineTool(tool: JsonSchemaTool): JsonSchemaTool;
export function defineTool(tool: Tool): Tool {
  return tool;
}

export function isZodSchema(parameters: unknown): parameters is ZodParameters {
  return (
    typeof parameters === 'object' &&
    parameters !== null &&
    'safeParse' in parameters &&
    typeof (parameters as { safeParse: unknown }).safeParse === 'function'
  );
}
