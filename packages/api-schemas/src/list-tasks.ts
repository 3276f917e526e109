import { z } from 'zod';
import { taskSchema, taskStatusSchema } from './task.ts';
import type { TaskMetadata } from './task-metadata.ts';

/**
 * `GET /v1/tasks`'s fixed parameters. Any number of `metadata.<key>=<value>` filters come
 * beside them (Fastify hands them over as flat names, so the route reads those itself).
 */
export const listTasksParamsSchema = z.strictObject({
  // A listing reads stored records, and `awaiting_approval` is only ever shown by a task read.
  status: taskStatusSchema.exclude(['awaiting_approval']).optional(),
  limit: z.coerce.number<number>().int().min(1).max(100).default(20),
  /** A `next_cursor` this API gave out. */
  cursor: z.string().max(400).optional().describe('The `next_cursor` of the page before.'),
});

/** The query as a client states it: metadata filters as one object, each pair sent as `metadata.<key>=<value>`. */
export type ListTasksParams = z.input<typeof listTasksParamsSchema> & { metadata?: TaskMetadata };

/** A task in a listing: its record without the transcript, turns and trace. */
export const taskSummarySchema = taskSchema
  .pick({ id: true, status: true, created_at: true, updated_at: true, model: true, metadata: true, usage: true, error: true })
  // Its name in an OpenAPI document (the orchestrator's /openapi.json).
  .meta({ id: 'TaskSummary' });
export type TaskSummary = z.infer<typeof taskSummarySchema>;

/** What `GET /v1/tasks` answers: a page, newest first; `next_cursor` is null at the end. */
export const taskListSchema = z.object({
  tasks: z.array(taskSummarySchema).describe('Newest first by `created_at`.'),
  next_cursor: z
    .string()
    .nullable()
    .describe('Pass it back as `cursor` for the next page; null at the end. A page may be short (even empty) with a cursor: keep paging.'),
});
export type TaskList = z.infer<typeof taskListSchema>;
