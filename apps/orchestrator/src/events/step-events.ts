import type { TaskEventFields, TaskEventName, TaskEvents } from '@volley/shared';
import type { FanInSlot } from '../fan-out/plan-fan-out.ts';
import type { TaskRecord, TurnRecord } from '../tasks/task-record.ts';
import type { ModelRequest } from '../turn/model-client.ts';
import { coalesceText } from './text-deltas.ts';

type Event = { name: TaskEventName; fields: TaskEventFields };

/**
 * The events a task step emits, each after the write it reports succeeded where there is one
 * (a step superseded before that write emits nothing of it). Without `events` (tests that do
 * not read them) every function does nothing.
 */
export async function emitModelStarted(events: TaskEvents | undefined, task: TaskRecord, turn: number, wasQueued: boolean): Promise<void> {
  if (!events) return;
  const list: Event[] = [];
  if (wasQueued) list.push({ name: 'task.status', fields: { turn: null, status: 'running', previous: 'queued' } });
  list.push({ name: 'llm.started', fields: { turn, model: task.model } });
  await events.appendAll(task.id, list);
}

/** A model call's `onText`, sending coalesced `llm.delta` events, and the flush to await after the call. */
export function modelTextEvents(
  events: TaskEvents | undefined,
  taskId: string,
  turn: number,
): { onText?: ModelRequest['onText']; flush(discard?: boolean): Promise<void> } {
  if (!events) return { flush: async () => undefined };
  const deltas = coalesceText((text) => events.append(taskId, 'llm.delta', { turn, text }));
  return { onText: (text) => deltas.push(text), flush: (discard) => deltas.flush(discard) };
}

export async function emitModelFinished(events: TaskEvents | undefined, taskId: string, turn: TurnRecord): Promise<void> {
  await events?.append(taskId, 'llm.finished', {
    turn: turn.index,
    usage: turn.llm.usage,
    tool_call_count: turn.llm.tool_call_count,
    started_at: turn.llm.started_at,
    finished_at: turn.llm.finished_at,
    ms: turn.llm.finished_at - turn.llm.started_at,
  });
}

export async function emitModelFailed(events: TaskEvents | undefined, taskId: string, turn: number, error: { code: string; message: string }): Promise<void> {
  await events?.append(taskId, 'llm.finished', { turn, error, usage: null, tool_call_count: 0 });
}

/**
 * At fan-out, in one append: `tool_call.queued` for each routed call, and `tool_call.finished`
 * at once for a call answered without a job (an unknown tool, bad arguments).
 */
export async function emitFannedOut(events: TaskEvents | undefined, taskId: string, turn: number, slots: readonly FanInSlot[]): Promise<void> {
  if (!events) return;
  await events.appendAll(
    taskId,
    slots.map((slot, index): Event => {
      if ('job_id' in slot) return { name: 'tool_call.queued', fields: { turn, tool_call_id: slot.tool_call_id, name: slot.name, index, pool: slot.pool } };
      const { result } = slot;
      return {
        name: 'tool_call.finished',
        fields: {
          turn,
          tool_call_id: slot.tool_call_id,
          name: slot.name,
          index,
          status: result.ok ? 'succeeded' : 'failed',
          error_code: result.ok ? null : result.error.code,
          ms: 0,
        },
      };
    }),
  );
}

export async function emitTurnGathered(events: TaskEvents | undefined, taskId: string, turn: TurnRecord): Promise<void> {
  await events?.append(taskId, 'turn.gathered', {
    turn: turn.index,
    gathered_at: turn.gathered_at ?? Date.now(),
    tool_call_count: turn.tool_calls.length,
    failed: turn.tool_calls.filter((call) => call.status !== 'succeeded').length,
  });
}

/** The task's last two events: its final `task.status`, and `task.finished`, which ends every stream of it. */
export async function emitTaskFinished(
  events: TaskEvents | undefined,
  task: Pick<TaskRecord, 'id' | 'status' | 'error' | 'usage' | 'turns' | 'client_tool_calls'>,
  previous: string | null,
): Promise<void> {
  if (!events) return;
  const turn = task.turns.length === 0 ? null : task.turns.length - 1;
  // Names and ids only: the arguments are in the record, and may be large.
  const clientCalls = task.client_tool_calls?.map((call) => ({ id: call.id, name: call.function.name }));
  await events.appendAll(task.id, [
    { name: 'task.status', fields: { turn, status: task.status, previous } },
    {
      name: 'task.finished',
      fields: { turn, status: task.status, error: task.error ?? null, usage: task.usage, ...(clientCalls ? { client_tool_calls: clientCalls } : {}) },
    },
  ]);
}
