import { fanOutId, toolCallJobId } from '@volley/shared';
import type { CallRecord, TaskRecord, TurnRecord } from './task-record.ts';

/** A call of the turn in flight that went to a pool's queue, with the id of its job there. */
export interface QueuedCall {
  call: CallRecord;
  pool: string;
  jobId: string;
}

/** The task's last turn while its calls are out (not yet gathered), with those that went to a queue. */
export function openTurn(task: TaskRecord): { turn: TurnRecord; queued: QueuedCall[] } | undefined {
  const turn = task.turns.at(-1);
  if (!turn || turn.gathered_at !== undefined) return undefined;
  const fanOut = fanOutId(task.id, turn.index);
  const queued = turn.tool_calls.flatMap((call, index) => (call.pool ? [{ call, pool: call.pool, jobId: toolCallJobId(fanOut, index) }] : []));
  return { turn, queued };
}
