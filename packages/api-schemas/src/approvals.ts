import { z } from 'zod';

/** `POST /v1/tasks/:id/approvals`: decisions on waiting calls, all taken or none. */
export const approvalsBodySchema = z.strictObject({
  decisions: z
    .array(
      z.strictObject({
        tool_call_id: z.string().min(1).max(200),
        approve: z.boolean(),
        reason: z.string().max(4000).optional(),
        /** Edited arguments: a JSON object's text, run instead of the model's (validated again by the worker). */
        arguments: z.string().optional(),
      }),
    )
    .min(1)
    .max(256),
});
export type ApprovalsBody = z.infer<typeof approvalsBodySchema>;
/** One decision as a client sends it. */
export type ApprovalDecisionRequest = z.input<typeof approvalsBodySchema>['decisions'][number];

/** What `POST /v1/tasks/:id/approvals` answers: the decisions taken. */
export const approvalsAnswerSchema = z.object({
  id: z.string(),
  decisions: z.array(z.object({ tool_call_id: z.string(), approve: z.boolean(), decided_at: z.number() })),
});
export type ApprovalsAnswer = z.infer<typeof approvalsAnswerSchema>;
