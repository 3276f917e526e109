import { z } from 'zod';

/**
 * The events of a task, a contract: clients subscribe to these names over
 * `GET /v1/tasks/:id/events`, in the order Redis received them from whichever process saw them.
 */
export const TASK_EVENT_NAMES = [
  'task.status',
  'llm.started',
  'llm.delta',
  'llm.finished',
  'tool_call.queued',
  'tool_call.waiting_lock',
  'tool_call.started',
  'tool_call.progress',
  'tool_call.finished',
  'approval.requested',
  'approval.decided',
  'turn.gathered',
  'task.finished',
] as const;
export type TaskEventName = (typeof TASK_EVENT_NAMES)[number];

/**
 * What every event's `data` holds besides the fields of its kind (see README, Events): its task,
 * its turn (null when it belongs to none) and when it happened (epoch ms).
 */
export const taskEventDataSchema = z.looseObject({ task_id: z.string(), turn: z.number().int().nullable(), at: z.number() });
export type TaskEventData = z.infer<typeof taskEventDataSchema>;
