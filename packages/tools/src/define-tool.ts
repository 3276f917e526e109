import type { z } from 'zod';
import type { ApprovalContext, ToolContext } from './tool-context.ts';

/** A JSON Schema object (draft 2020-12), as in an OpenAI tool definition. */
export type JsonSchemaObject = Record<string, unknown>;

/**
 * A resource a side-effecting call touches; a bare string means write access. Keys are the
 * calling tenant's own (two tenants' `record:7` are two resources) unless `shared: true`, which
 * makes the key one resource for every tenant. Keys may not start with '@' (Volley's own).
 */
export type ResourceClaim = string | { key: string; mode: 'read' | 'write'; shared?: boolean };

/** Zod parameters: any zod schema whose output is an object of arguments. */
export type ZodParameters = z.ZodType<Record<string, unknown>>;

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
// biome-ignore lint/suspicious/noExplicitAny: a list of tools holds zod tools of every parameter shape; `unknown` would refuse them (execute's argument is contravariant).
export type Tool = ZodTool<any> | JsonSchemaTool;

/** Typed identity helper: `execute` receives arguments typed by the zod `parameters`. */
export function defineTool<S extends ZodParameters>(tool: ZodTool<S>): ZodTool<S>;
export function defineTool(tool: JsonSchemaTool): JsonSchemaTool;
export function defineTool(tool: Tool): Tool {
  return tool;
}
