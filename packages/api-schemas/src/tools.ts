import { z } from 'zod';
import { openAIToolSchema } from './openai-wire.ts';

/** A tool's calls need a person's approval: always, never, or depending on their arguments ('dynamic'). */
export const needsApprovalSchema = z.union([z.boolean(), z.literal('dynamic')]);

/** A tool some live worker serves, as `GET /v1/tools` lists it: its OpenAI definition and where it runs. */
export const listedToolSchema = openAIToolSchema.extend({
  pool: z.string().describe('The pool whose workers run it.'),
  workers: z.number().int().describe('Live workers serving it.'),
  side_effects: z.boolean(),
  needs_approval: needsApprovalSchema.optional().describe("Calls wait for a person's approval: always, or depending on their arguments."),
});
export type ListedTool = z.infer<typeof listedToolSchema>;

/** What `GET /v1/tools` answers: the tools the caller's key may use. */
export const toolListSchema = z.object({ tools: z.array(listedToolSchema) });
export type ToolList = z.infer<typeof toolListSchema>;
