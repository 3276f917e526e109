import { defineTool } from '@volley/tools';
import { z } from 'zod';
import { blob, BLOB_TOOL, noop, NOOP_TOOL, SLEEP_TOOL, sleepMs } from './tool-functions.ts';

/**
 * The tool module Volley's workers load for the benchmark (`VOLLEY_TOOL_MODULES`). The schemas
 * are the ones the `Promise.all` baseline validates with, so all paths do the same work.
 */
export const noopTool = defineTool({
  name: NOOP_TOOL,
  description: 'Does nothing and answers "ok": measures pure transport cost.',
  parameters: z.object({}),
  execute: () => noop(),
});

export const sleepMsTool = defineTool({
  name: SLEEP_TOOL,
  description: 'Waits the given number of milliseconds: stands in for a tool doing I/O.',
  parameters: z.object({ ms: z.number().int().min(0).max(60_000) }),
  execute: (args, ctx) => sleepMs(args, ctx.signal),
});

export const blobTool = defineTool({
  name: BLOB_TOOL,
  description: 'Answers a text of the given size: a tool whose results make a long transcript.',
  parameters: z.object({ bytes: z.number().int().min(0).max(1_048_576) }),
  execute: (args) => blob(args),
});

export default [noopTool, sleepMsTool, blobTool];
