import { lockTicket, TaskEvents, type ApprovalRecord, type Approvals, type CallError, type KeySpaces, type Logger, type ToolCallJobData } from '@volley/shared';
import type { Tool } from '@volley/tools';
import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { claimsOf, type LockingDeps } from '../locks/run-locked-call.ts';
import { wakeIfDue } from '../locks/wake-if-due.ts';
import { prepareCall, type PreparedCall } from '../prepare-call.ts';
import type { ToolSet } from '../tool-set.ts';

type ReadyCall = Extract<PreparedCall, { ok: true }>;

export interface ApprovalGateDeps {
  approvals: Approvals;
  /** For the task's events (approval.requested, approval.decided). */
  redis: Redis;
  spaces: KeySpaces;
  /** How long a call waits for a decision before it is denied with `approval_timeout`. */
  timeoutMs: number;
  /** How long a waiting call sleeps before it looks again, should its wake-up be lost. */
  parkMs: number;
  logger: Logger;
}

/** Run the call (with its approved, maybe edited, arguments), or answer it with this error. */
export type Gate = { kind: 'run'; prepared?: ReadyCall; decidedAt?: number } | { kind: 'answer'; error: CallError };

export interface GatedCall {
  job: Job;
  token: string | undefined;
  data: ToolCallJobData;
  prepared: ReadyCall;
  tools: ToolSet;
  maxArgumentDepth: number;
  /** A locking call enters its lock lines before it waits, and leaves them when it is not to run. */
  locking?: LockingDeps | undefined;
  /** Whether the call was taken back since it was picked up (cancelled, its task ended). */
  takenBack?: () => Promise<boolean>;
}

/**
 * Decides whether a call may run yet. One that needs approval (its tool's `needsApproval`, or
 * its task's `require_approval`) and was not approved in advance: a bare call (no task to wait
 * in) is refused `approval_required`; a task's call records its request, and parks as a delayed
 * job — holding no worker slot and no step — until a decision promotes it, its timeout comes,
 * or the park interval looks again (so a lost promote is only a delay). Everything it needs to
 * go on is in Redis (the request, the decision, the delayed job), so waiting survives restarts.
 *
 * A locking call enters its lock lines first, before it parks: later calls of its message that
 * conflict with it wait behind it (model order), while calls on other resources run. It takes
 * no lock while it waits for a person: it acquires only once approved, after the earlier calls
 * it waits behind. Throws DelayedError when it parks.
 */
export async function gateApproval(deps: ApprovalGateDeps, call: GatedCall): Promise<Gate> {
  const { job, data, prepared } = call;
  if (data.approval?.approved) return { kind: 'run' };
  if (!(await needsApproval(prepared.loaded.tool, prepared.args, data, deps.logger))) return { kind: 'run' };
  if (data.turn === undefined) {
    return { kind: 'answer', error: { code: 'approval_required', message: `the call needs approval; list its id in "approved" to run it` } };
  }
  let record = await deps.approvals.get(data.taskId, data.toolCallId);
  if (!record || record.job_id !== job.id) {
    const now = Date.now();
    const requested = await deps.approvals.request(data.taskId, {
      tool_call_id: data.toolCallId,
      name: data.name,
      arguments: data.arguments,
      requested_at: now,
      timeout_at: now + deps.timeoutMs,
      turn: data.turn,
      // Tool queues are named `tools-<pool>` (see toolQueueName).
      pool: job.queueName.replace(/^tools-/, ''),
      job_id: String(job.id),
    });
    record = requested.record;
    if (requested.created) {
      const { tool_call_id, name, arguments: args, requested_at, timeout_at } = record;
      await emit(deps, data.taskId, requested.taskTtlMs, 'approval.requested', {
        turn: data.turn,
        tool_call_id,
        name,
        arguments: args,
        requested_at,
        timeout_at,
      });
    }
  }
  if (!record.decision) {
    if (Date.now() < record.timeout_at) {
      await enterLines(call);
      return park(deps, call, record);
    }
    record = await decideTimeout(deps, data, record);
  }
  return act(call, record);
}

async function needsApproval(tool: Tool, args: Record<string, unknown>, data: ToolCallJobData, logger: Logger): Promise<boolean> {
  const rule = data.approval?.require;
  if (rule === 'all' || (rule === 'side_effects' && tool.sideEffects === true) || (Array.isArray(rule) && rule.includes(tool.name))) return true;
  const own = tool.needsApproval;
  if (typeof own !== 'function') return own === true;
  try {
    return Boolean(await own(args as never, { toolCallId: data.toolCallId, taskId: data.taskId, tenant: data.tenant ?? null }));
  } catch (error) {
    // Failing closed: a call whose need cannot be judged waits for a person.
    logger.warn({ taskId: data.taskId, toolCallId: data.toolCallId, err: error }, 'needsApproval threw; the call needs approval');
    return true;
  }
}

/** Nobody decided in time: the call is denied, unless a decision lands first (then that holds). */
async function decideTimeout(deps: ApprovalGateDeps, data: ToolCallJobData, record: ApprovalRecord): Promise<ApprovalRecord> {
  const waited = Date.now() - record.requested_at;
  const decision = {
    approve: false,
    reason: `nobody decided within ${waited} ms (VOLLEY_APPROVAL_TIMEOUT_MS)`,
    decided_at: Date.now(),
    by: 'timeout' as const,
  };
  const outcome = await deps.approvals.decide(data.taskId, [{ tool_call_id: data.toolCallId, decision }]);
  if (outcome.ok) {
    await emit(deps, data.taskId, outcome.taskTtlMs, 'approval.decided', {
      turn: data.turn ?? null,
      tool_call_id: data.toolCallId,
      approve: false,
      by: 'timeout',
      reason: decision.reason,
      decided_at: decision.decided_at,
    });
    return outcome.records[0]!;
  }
  return (await deps.approvals.get(data.taskId, data.toolCallId)) ?? { ...record, decision };
}

async function act(call: GatedCall, record: ApprovalRecord): Promise<Gate> {
  const decision = record.decision!;
  if (!decision.approve) {
    await leaveLines(call);
    if (decision.by === 'timeout')
      return { kind: 'answer', error: { code: 'approval_timeout', message: `the call was not approved in time: ${decision.reason ?? ''}`.trim() } };
    const why = decision.reason ? `: ${decision.reason}` : ' (no reason given)';
    return { kind: 'answer', error: { code: 'denied', message: `a person denied the call${why}` } };
  }
  if (decision.arguments === undefined) return { kind: 'run', decidedAt: decision.decided_at };
  // Edited arguments pass the same checks as the model's.
  const edited = prepareCall(call.tools, { ...call.data, arguments: decision.arguments }, call.maxArgumentDepth);
  if (!edited.ok) {
    await leaveLines(call);
    return { kind: 'answer', error: { code: edited.error.code, message: `the approved, edited arguments were refused: ${edited.error.message}` } };
  }
  if (call.data.lock && !sameClaims(call, edited)) {
    // Its place in line was taken for the resources of the arguments it asked with.
    await leaveLines(call);
    return {
      kind: 'answer',
      error: { code: 'invalid_resources', message: 'the approved, edited arguments touch other resources than the call asked for; it did not run' },
    };
  }
  return { kind: 'run', prepared: edited, decidedAt: decision.decided_at };
}

function claimsOrNone(call: GatedCall, prepared: ReadyCall) {
  try {
    return claimsOf(prepared, call.data.lock!, call.data.tenant ?? null);
  } catch {
    return undefined;
  }
}

function sameClaims(call: GatedCall, edited: ReadyCall): boolean {
  return JSON.stringify(claimsOrNone(call, call.prepared)) === JSON.stringify(claimsOrNone(call, edited));
}

/** Declares the call's claims in its message's plan (idempotent), so later conflicting calls queue behind it. */
async function enterLines(call: GatedCall): Promise<void> {
  const { lock } = call.data;
  if (!lock || !call.locking) return;
  const claims = claimsOrNone(call, call.prepared);
  // Claims that cannot be derived are answered by runLockedCall once decided; it declares nothing meanwhile.
  if (!claims) return;
  const ticket = lockTicket(call.job.queueQualifiedName, call.job.id!);
  const registered = await call.locking.locks.register(lock, ticket, claims);
  if (registered.completedPlan) await call.locking.waker.wake(lock.siblings.filter((sibling) => sibling !== ticket));
}

async function leaveLines(call: GatedCall): Promise<void> {
  const { lock } = call.data;
  if (!lock || !call.locking) return;
  const claims = claimsOrNone(call, call.prepared) ?? [];
  const ticket = lockTicket(call.job.queueQualifiedName, call.job.id!);
  await call.locking.waker.wake(await call.locking.locks.release(ticket, '*', claims, { keepPlace: false }));
}

/**
 * Parks the job until its timeout (or the next look, or its deadline); the decision route
 * promotes it, as a cancel does. The looks after parking catch a decision made, or a cancel
 * that found the job still active, while it was on its way.
 */
async function park(deps: ApprovalGateDeps, call: GatedCall, record: ApprovalRecord): Promise<never> {
  const now = Date.now();
  const deadline = call.data.deadline ?? Number.POSITIVE_INFINITY;
  // Past its deadline, the task's end (which promotes it) is on its way: it looks again soon.
  const until = deadline > now ? Math.min(record.timeout_at, now + deps.parkMs, deadline) : now + Math.min(deps.parkMs, 250);
  await call.job.moveToDelayed(Math.max(now + 1, until), call.token);
  const decided = async () => Boolean((await deps.approvals.get(call.data.taskId, call.data.toolCallId))?.decision);
  await wakeIfDue(call.job, [decided, call.takenBack]);
  throw new DelayedError();
}

async function emit(
  deps: ApprovalGateDeps,
  taskId: string,
  taskTtlMs: number,
  name: 'approval.requested' | 'approval.decided',
  fields: { turn: number | null } & Record<string, unknown>,
) {
  // The stream expires with its task; a task already gone gets no event.
  if (taskTtlMs <= 0) return;
  const events = new TaskEvents({ redis: deps.redis, spaces: deps.spaces, ttlSeconds: Math.ceil(taskTtlMs / 1000) });
  await events.append(taskId, name, fields).catch((error: unknown) => deps.logger.warn({ taskId, err: error, event: name }, 'task event not appended'));
}
