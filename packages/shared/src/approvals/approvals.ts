import { pendingApprovalSchema } from '@volley/api-schemas';
import type { Redis } from 'ioredis';
import type { KeySpaces } from '../queue/key-spaces.ts';
import { z } from 'zod';

/**
 * The calls of a task waiting for a person's approval, and the decisions on them: a hash
 * `tool_call_id → record` beside the task (same prefix, so on Redis Cluster the same slot),
 * expiring with the task. Workers write the request when a call that needs approval is picked
 * up; the decision route (or a worker, at the timeout) writes the decision, once.
 */
export function taskApprovalsKey(prefix: string, taskId: string): string {
  return `${prefix}:task:${taskId}:approvals`;
}

export const approvalDecisionSchema = z.object({
  approve: z.boolean(),
  reason: z.string().optional(),
  /** Edited arguments (a JSON object's text), validated again by the worker when it runs. */
  arguments: z.string().optional(),
  decided_at: z.number(),
  /** A person (the route) or the approval timeout (a worker). */
  by: z.enum(['person', 'timeout']),
});
export type ApprovalDecision = z.infer<typeof approvalDecisionSchema>;

/** What a task read shows of a waiting call (`pending_approvals`), and where it waits. */
export const approvalRecordSchema = pendingApprovalSchema.extend({
  turn: z.number().int().nullable(),
  /** The pool whose queue holds the parked job, and its id there: the route promotes it. */
  pool: z.string(),
  job_id: z.string(),
  decision: approvalDecisionSchema.optional(),
});
export type ApprovalRecord = z.infer<typeof approvalRecordSchema>;

export type DecideOutcome =
  | { ok: true; records: ApprovalRecord[]; taskTtlMs: number }
  | { ok: false; code: 'unknown_tool_call' | 'already_decided'; toolCallId: string };

/**
 * Writes a request unless this very job requested already (a redelivery or a wake-up keeps its
 * first `requested_at`); a record of another job under the same id (a later turn reusing an
 * id) is replaced. The hash takes the task's remaining TTL (ARGV[3] when the task has none).
 * KEYS: approvals, task. ARGV: tool_call_id, record, fallbackTtlMs, job id.
 * Returns {created 0|1, record, task PTTL}.
 */
const REQUEST_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if current and cjson.decode(current).job_id == ARGV[4] then return {0, current, ttl} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl > 0 and ttl or tonumber(ARGV[3]))
return {1, ARGV[2], ttl}
`;

/**
 * Decides several calls at once, or none: an unknown id or one decided already refuses the
 * whole set. KEYS: approvals, task. ARGV: JSON [{tool_call_id, decision}].
 * Returns {'ok', task PTTL, record…} or {code, tool_call_id}.
 */
const DECIDE_SCRIPT = `
local decisions = cjson.decode(ARGV[1])
local records = {}
for i, d in ipairs(decisions) do
  local current = redis.call('HGET', KEYS[1], d.tool_call_id)
  if not current then return {'unknown_tool_call', d.tool_call_id} end
  local record = cjson.decode(current)
  if record.decision then return {'already_decided', d.tool_call_id} end
  record.decision = d.decision
  records[i] = record
end
local ttl = redis.call('PTTL', KEYS[2])
local out = {'ok', ttl}
for _, record in ipairs(records) do
  local body = cjson.encode(record)
  redis.call('HSET', KEYS[1], record.tool_call_id, body)
  out[#out + 1] = body
end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return out
`;

type ScriptedRedis = Redis & {
  volleyApprovalRequest(...args: (string | number)[]): Promise<[number, string, number]>;
  volleyApprovalDecide(...args: (string | number)[]): Promise<(string | number)[]>;
};

export class Approvals {
  private readonly redis: ScriptedRedis;
  private readonly spaces: KeySpaces;

  constructor(deps: { redis: Redis; spaces: KeySpaces }) {
    const redis = deps.redis as ScriptedRedis;
    if (typeof redis.volleyApprovalRequest !== 'function') {
      redis.defineCommand('volleyApprovalRequest', { numberOfKeys: 2, lua: REQUEST_SCRIPT });
      redis.defineCommand('volleyApprovalDecide', { numberOfKeys: 2, lua: DECIDE_SCRIPT });
    }
    this.redis = redis;
    this.spaces = deps.spaces;
  }

  private keys(taskId: string): [string, string] {
    const prefix = this.spaces.of(taskId);
    return [taskApprovalsKey(prefix, taskId), `${prefix}:task:${taskId}`];
  }

  /** Records that the call waits (see REQUEST_SCRIPT); answers the record in force. */
  async request(taskId: string, record: ApprovalRecord): Promise<{ record: ApprovalRecord; created: boolean; taskTtlMs: number }> {
    const fallbackTtlMs = Math.max(1, record.timeout_at - Date.now()) + 3_600_000;
    const [created, body, ttl] = await this.redis.volleyApprovalRequest(
      ...this.keys(taskId),
      record.tool_call_id,
      JSON.stringify(record),
      fallbackTtlMs,
      record.job_id,
    );
    return { record: approvalRecordSchema.parse(JSON.parse(body)), created: created === 1, taskTtlMs: ttl };
  }

  async get(taskId: string, toolCallId: string): Promise<ApprovalRecord | undefined> {
    const body = await this.redis.hget(this.keys(taskId)[0], toolCallId);
    return body === null ? undefined : approvalRecordSchema.parse(JSON.parse(body));
  }

  async list(taskId: string): Promise<ApprovalRecord[]> {
    const all = await this.redis.hgetall(this.keys(taskId)[0]);
    return Object.values(all).flatMap((body) => {
      const parsed = approvalRecordSchema.safeParse(JSON.parse(body));
      return parsed.success ? [parsed.data] : [];
    });
  }

  async decide(taskId: string, decisions: ReadonlyArray<{ tool_call_id: string; decision: ApprovalDecision }>): Promise<DecideOutcome> {
    const [status, ...rest] = await this.redis.volleyApprovalDecide(...this.keys(taskId), JSON.stringify(decisions));
    if (status !== 'ok') return { ok: false, code: status as 'unknown_tool_call' | 'already_decided', toolCallId: String(rest[0]) };
    const [ttl, ...bodies] = rest;
    return { ok: true, taskTtlMs: Number(ttl), records: bodies.map((body) => approvalRecordSchema.parse(JSON.parse(String(body)))) };
  }
}
