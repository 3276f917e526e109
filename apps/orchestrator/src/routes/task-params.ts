import { z } from 'zod';

/** The `:id` of every per-task route. */
export const taskParamsSchema = z.object({ id: z.string().min(1).max(200).describe("The task's id, as `POST /v1/tasks` answered it.") });
