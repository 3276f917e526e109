import { toolCallResultSchema } from '@volley/shared';
import { z } from 'zod';
import type { FanInSlot } from './plan-fan-out.ts';

/** Slots as they come back out of a job's data: parsed at that edge like any other input. */
export const fanInSlotSchema: z.ZodType<FanInSlot> = z.union([
  z.object({ tool_call_id: z.string(), name: z.string(), pool: z.string(), job_id: z.string() }),
  z.object({ tool_call_id: z.string(), name: z.string(), result: toolCallResultSchema }),
]);
