import { z } from 'zod';

/**
 * A span whose identity is fixed now and which is emitted later, maybe by another process: the
 * task record keeps its task's and each turn's fan-out's, and a read shows them.
 */
export const reservedSpanSchema = z.object({
  trace_id: z.string(),
  span_id: z.string(),
  /** The parent's span id; null for a root span. */
  parent_span_id: z.string().nullable(),
  start: z.number(),
});
export type ReservedSpan = z.infer<typeof reservedSpanSchema>;
