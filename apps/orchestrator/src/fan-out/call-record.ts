import type { ToolCallResult } from '@volley/shared';
import type { CallRecord } from '../tasks/task-record.ts';
import type { FanInSlot } from './plan-fan-out.ts';

/** The record of a call before it has run: queued on its pool, or already failed. */
export function pendingCallRecord(slot: FanInSlot): CallRecord {
  if ('result' in slot) return finishedCallRecord(slot, slot.result);
  return {
    id: slot.tool_call_id,
    name: slot.name,
    status: 'queued',
    pool: slot.pool,
    started_at: null,
    finished_at: null,
    worker_id: null,
    attempts: 0,
  };
}

export function finishedCallRecord(slot: FanInSlot, result: ToolCallResult): CallRecord {
  return withResult({ id: slot.tool_call_id, name: slot.name, pool: 'pool' in slot ? slot.pool : null }, result);
}

/** A call's record once its result is known. */
export function withResult(call: Pick<CallRecord, 'id' | 'name' | 'pool'>, result: ToolCallResult): CallRecord {
  return {
    id: call.id,
    name: call.name,
    status: result.ok ? 'succeeded' : 'failed',
    pool: call.pool,
    started_at: result.started_at,
    finished_at: result.finished_at,
    worker_id: result.worker_id,
    attempts: result.attempts,
    ...(result.lock_wait_ms === undefined ? {} : { lock_wait_ms: result.lock_wait_ms }),
    ...(result.ok ? {} : { error: result.error }),
  };
}
