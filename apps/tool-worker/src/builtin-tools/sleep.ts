import { setTimeout as delay } from 'node:timers/promises';
import { defineTool } from '@volley/tools';
import { z } from 'zod';

/** Waits, then says how long it waited: the demo's stand-in for slow I/O. */
export const sleepTool = defineTool({
  name: 'sleep',
  description: 'Wait for the given number of milliseconds, then report how long the wait took.',
  parameters: z.object({ ms: z.number().int().min(0).max(60_000).describe('How long to wait, in milliseconds') }),
  async execute({ ms }, { signal }) {
    const started = Date.now();
    await delay(ms, undefined, { signal });
    return { slept_ms: Date.now() - started };
  },
});
