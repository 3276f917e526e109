import { z } from 'zod';

/**
 * A task's rule on which calls need approval beyond what their tools declare: every call with
 * side effects, every call, or the calls to these tools.
 */
export const approvalRuleSchema = z.union([z.enum(['side_effects', 'all']), z.array(z.string().min(1).max(64)).max(256)]);
export type ApprovalRule = z.infer<typeof approvalRuleSchema>;
