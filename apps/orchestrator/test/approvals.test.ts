import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';
import { ask, assistant, call, callsFromQuestion } from './support/scripted-calls.ts';

const APPROVAL_TOOLS = fileURLToPath(new URL('./fixtures/approval-tools.ts', import.meta.url));
const newKey = () => `vk_${randomBytes(24).toString('hex')}`;
const KEYS = { acme: newKey(), globex: newKey() };
// Parked calls look again every second should a wake-up be lost.
const WORKER_ENV = { VOLLEY_LOCK_PARK_MS: '1000' };

interface Run {
  label: string;
  key: string | null;
  enter: number;
  exit: number;
}

const write = (id: string, name: 'guarded_write' | 'plain_write', key: string, ms = 0) => ({ id, name, arguments: { key, label: id, ms } });
const quick = (id: string, ms = 0) => ({ id, name: 'quick', arguments: { label: id, ms } });

async function runs(redis: Redis, labels: readonly string[]): Promise<Run[]> {
  const all = (await redis.lrange('test:runs', 0, -1)).map((line) => JSON.parse(line) as Run);
  return all.filter((run) => labels.includes(run.label));
}

/** The task once it waits for exactly these calls' approval. */
function awaitingApproval(api: Api, id: string, toolCallIds: readonly string[], timeoutMs = 10_000): Promise<any> {
  return waitFor(
    async () => {
      const { body } = await api.get(`/v1/tasks/${id}`);
      const pending = (body.pending_approvals ?? []).map((p: { tool_call_id: string }) => p.tool_call_id).sort();
      return body.status === 'awaiting_approval' && JSON.stringify(pending) === JSON.stringify([...toolCallIds].sort()) ? body : undefined;
    },
    { timeoutMs, message: `task ${id} did not wait for ${toolCallIds.join(', ')}` },
  );
}

function toolContent(task: any, toolCallId: string): any {
  const message = task.messages.find((m: any) => m.role === 'tool' && m.tool_call_id === toolCallId);
  return JSON.parse(message.content);
}

async function events(redis: Redis, taskId: string): Promise<Array<{ event: string; data: any }>> {
  const entries = await redis.xrange(`volley:task:${taskId}:events`, '-', '+');
  return entries.map(([, fields]) => ({ event: fields[1]!, data: JSON.parse(fields[3]!) }));
}

async function lockLinesEmpty(redis: Redis): Promise<boolean> {
  return (await redis.keys('volley:lock:q:*')).length === 0;
}

describe('approval of tool calls', () => {
  let cluster: Cluster;
  let redis: Redis;
  let acme: Api;
  let globex: Api;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [APPROVAL_TOOLS],
      workerEnv: WORKER_ENV,
      respond: callsFromQuestion,
      orchestratorEnv: { VOLLEY_API_KEYS: `${KEYS.acme}:acme,${KEYS.globex}:globex` },
    });
    redis = cluster.client;
    acme = cluster.api.withHeaders({ authorization: `Bearer ${KEYS.acme}` });
    globex = cluster.api.withHeaders({ authorization: `Bearer ${KEYS.globex}` });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when a message holds a call that needs approval', () => {
    it('runs independent calls at once, holds later conflicting ones behind it, and runs both in model order once approved', async () => {
      const calls = [write('g1', 'guarded_write', 'rec-1', 100), quick('q1'), write('w1', 'plain_write', 'rec-1')];
      const { body: created } = await acme.post('/v1/tasks', ask(calls));
      const waiting = await awaitingApproval(acme, created.id, ['g1']);
      expect(waiting.pending_approvals[0]).toMatchObject({ tool_call_id: 'g1', name: 'guarded_write', arguments: JSON.stringify(calls[0]!.arguments) });
      expect(waiting.pending_approvals[0].requested_at).toBeLessThanOrEqual(Date.now());
      expect(waiting.turns[0].tool_calls[0]).toMatchObject({ id: 'g1', status: 'awaiting_approval', started_at: null });

      await waitFor(async () => (await runs(redis, ['q1'])).length === 1);
      // The later writer of rec-1 waits behind the waiting call, though it needs no approval.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect((await runs(redis, ['g1', 'w1'])).map((r) => r.label)).toEqual([]);

      const decidedAt = Date.now();
      const decided = await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'g1', approve: true }] });
      expect(decided.status).toBe(200);
      expect(decided.body.decisions).toMatchObject([{ tool_call_id: 'g1', approve: true }]);

      const task = await acme.waitForTask(created.id);
      expect(task.status).toBe('completed');
      expect(task.pending_approvals).toEqual([]);
      const [g1, w1] = await runs(redis, ['g1', 'w1']);
      expect([g1!.label, w1!.label]).toEqual(['g1', 'w1']);
      expect(w1!.enter).toBeGreaterThanOrEqual(g1!.exit);
      // A promote, not the park interval, woke it.
      expect(g1!.enter - decidedAt).toBeLessThan(900);
      process.stdout.write(`approval → call start: ${Math.round(g1!.enter - decidedAt)} ms\n`);

      const names = (await events(redis, created.id)).map((e) => e.event).filter((name) => name.startsWith('approval.'));
      expect(names).toEqual(['approval.requested', 'approval.decided']);

      // Decided once only, even after the task ended.
      const again = await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'g1', approve: false }] });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('already_decided');
    });

    it('answers a denied call `denied` with the reason, and runs the later writer', async () => {
      const calls = [write('g2', 'guarded_write', 'rec-2'), write('w2', 'plain_write', 'rec-2')];
      const { body: created } = await acme.post('/v1/tasks', ask(calls));
      await awaitingApproval(acme, created.id, ['g2']);
      const unknown = await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'nope', approve: true }] });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.code).toBe('unknown_tool_call');
      const foreign = await globex.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'g2', approve: true }] });
      expect(foreign.status).toBe(404);

      await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'g2', approve: false, reason: 'that record is frozen' }] });
      const task = await acme.waitForTask(created.id);
      expect(task.status).toBe('completed');
      expect(toolContent(task, 'g2').error).toMatchObject({ code: 'denied' });
      expect(toolContent(task, 'g2').error.message).toContain('that record is frozen');
      expect((await runs(redis, ['g2', 'w2'])).map((r) => r.label)).toEqual(['w2']);
      expect(await lockLinesEmpty(redis)).toBe(true);
    });

    it('runs approved, edited arguments, validated again', async () => {
      const calls = [write('g3', 'guarded_write', 'rec-3'), write('g4', 'guarded_write', 'rec-4'), write('g5', 'guarded_write', 'rec-5')];
      const { body: created } = await acme.post('/v1/tasks', ask(calls));
      await awaitingApproval(acme, created.id, ['g3', 'g4', 'g5']);
      const notJson = await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'g3', approve: true, arguments: '{oops' }] });
      expect(notJson.status).toBe(400);
      const decided = await acme.post(`/v1/tasks/${created.id}/approvals`, {
        decisions: [
          { tool_call_id: 'g3', approve: true, arguments: JSON.stringify({ key: 'rec-3', label: 'g3-edited' }) },
          { tool_call_id: 'g4', approve: true, arguments: JSON.stringify({ key: 'rec-4', label: 4 }) },
          { tool_call_id: 'g5', approve: true, arguments: JSON.stringify({ key: 'elsewhere', label: 'g5' }) },
        ],
      });
      expect(decided.status).toBe(200);
      // The whole set is refused when one of it was decided already: g5 stays as decided.
      const again = await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'g5', approve: false }] });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('already_decided');
      const task = await acme.waitForTask(created.id);
      expect(toolContent(task, 'g3')).toMatchObject({ label: 'g3-edited', key: 'rec-3' });
      expect(toolContent(task, 'g4').error.code).toBe('arguments_schema_violation');
      expect(toolContent(task, 'g5').error.code).toBe('invalid_resources');
      expect((await runs(redis, ['g3', 'g3-edited', 'g4', 'g5'])).map((r) => r.label)).toEqual(['g3-edited']);
    });

    it('cancels a task while it waits, at once, leaving no lock line behind', async () => {
      const calls = [write('g6', 'guarded_write', 'rec-6'), write('w6', 'plain_write', 'rec-6')];
      const { body: created } = await acme.post('/v1/tasks', ask(calls));
      await awaitingApproval(acme, created.id, ['g6']);
      const cancelledAt = Date.now();
      const cancel = await acme.post(`/v1/tasks/${created.id}/cancel`, {});
      expect(cancel.body.status).toBe('cancelled');
      await waitFor(() => lockLinesEmpty(redis), { timeoutMs: 900, message: 'lock lines not left within 900 ms' });
      process.stdout.write(`cancel of a waiting call → lines empty: ${Date.now() - cancelledAt} ms\n`);
      const task = await acme.get(`/v1/tasks/${created.id}`);
      expect(task.body).toMatchObject({ status: 'cancelled', pending_approvals: [] });
      const late = await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'g6', approve: true }] });
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('task_ended');
      expect(await runs(redis, ['g6', 'w6'])).toEqual([]);
    });

    it('keeps a sequential message in model order: later calls wait behind the waiting one', async () => {
      const calls = [quick('sq-1'), write('sq-g', 'guarded_write', 'rec-sq'), quick('sq-2')];
      const { body: created } = await acme.post('/v1/tasks', { ...ask(calls), execution: 'sequential' });
      await awaitingApproval(acme, created.id, ['sq-g']);
      await waitFor(async () => (await runs(redis, ['sq-1'])).length === 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await runs(redis, ['sq-g', 'sq-2'])).length).toBe(0);
      await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'sq-g', approve: true }] });
      expect((await acme.waitForTask(created.id)).status).toBe('completed');
      const order = await runs(redis, ['sq-1', 'sq-g', 'sq-2']);
      expect(order.map((r) => r.label)).toEqual(['sq-1', 'sq-g', 'sq-2']);
      expect(order[2]!.enter).toBeGreaterThanOrEqual(order[1]!.exit);
    });

    it('asks only above the limit when needsApproval is a function of the arguments', async () => {
      const calls = [
        { id: 's-small', name: 'spend', arguments: { label: 's-small', amount: 50 } },
        { id: 's-big', name: 'spend', arguments: { label: 's-big', amount: 500 } },
      ];
      const { body: created } = await acme.post('/v1/tasks', ask(calls));
      await awaitingApproval(acme, created.id, ['s-big']);
      await waitFor(async () => (await runs(redis, ['s-small'])).length === 1);
      await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 's-big', approve: true }] });
      expect((await acme.waitForTask(created.id)).status).toBe('completed');
      const tools = await acme.get('/v1/tools');
      const byName = Object.fromEntries(tools.body.tools.map((tool: any) => [tool.function.name, tool]));
      expect(byName.spend.needs_approval).toBe('dynamic');
      expect(byName.guarded_write.needs_approval).toBe(true);
      expect(byName.quick).not.toHaveProperty('needs_approval');
    });
  });

  describe('when a task sets require_approval', () => {
    const pendingFor = async (rule: unknown, calls: unknown[], expected: string[]) => {
      const { status, body: created } = await acme.post('/v1/tasks', { ...ask(calls), require_approval: rule });
      expect(status).toBe(202);
      await awaitingApproval(acme, created.id, expected);
      await acme.post(`/v1/tasks/${created.id}/approvals`, { decisions: expected.map((id) => ({ tool_call_id: id, approve: true })) });
      expect((await acme.waitForTask(created.id)).status).toBe('completed');
    };

    it('"side_effects" asks for calls with side effects only', () =>
      pendingFor('side_effects', [write('se-w', 'plain_write', 'rec-se'), quick('se-q')], ['se-w']));

    it('"all" asks for every call', () => pendingFor('all', [quick('all-1'), quick('all-2')], ['all-1', 'all-2']));

    it('a list asks for the calls of the tools it names', () =>
      pendingFor(['quick'], [quick('list-q'), write('list-w', 'plain_write', 'rec-list')], ['list-q']));

    it('refuses a malformed rule', async () => {
      const { status } = await acme.post('/v1/tasks', { ...ask([quick('x')]), require_approval: 'some' });
      expect(status).toBe(400);
    });
  });

  describe('when POST /v1/tool-calls holds a call that needs approval', () => {
    const message = assistant(call('tc-g', 'guarded_write', { key: 'rec-tc', label: 'tc-g' }), call('tc-q', 'quick', { label: 'tc-q' }));

    it('answers it `approval_required`, and runs the rest', async () => {
      const { status, body } = await acme.post('/v1/tool-calls', { message });
      expect(status).toBe(200);
      expect(JSON.parse(body.messages[0].content).error.code).toBe('approval_required');
      expect(JSON.parse(body.messages[1].content)).toMatchObject({ label: 'tc-q' });
    });

    it('runs it when the request lists it in `approved`', async () => {
      const { body } = await acme.post('/v1/tool-calls', { message, approved: ['tc-g'] });
      expect(JSON.parse(body.messages[0].content)).toMatchObject({ label: 'tc-g', key: 'rec-tc' });
    });
  });
});

describe('a call waiting for approval, on one worker with one slot', () => {
  let cluster: Cluster;
  let redis: Redis;
  const TIMEOUT_MS = 2_000;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 1,
      toolModules: [APPROVAL_TOOLS],
      // Shorter than the approval timeout: a call behind a waiting one must outlast it anyway.
      workerEnv: { ...WORKER_ENV, VOLLEY_WORKER_CONCURRENCY: '1', VOLLEY_APPROVAL_TIMEOUT_MS: String(TIMEOUT_MS), VOLLEY_LOCK_WAIT_TIMEOUT_MS: '500' },
      respond: callsFromQuestion,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('holds no slot: another task runs meanwhile; nobody deciding denies it with approval_timeout, and the call behind it runs', async () => {
    const { body: waiting } = await cluster.api.post('/v1/tasks', ask([write('t-g', 'guarded_write', 'rec-t'), write('t-w', 'plain_write', 'rec-t')]));
    const shown = await awaitingApproval(cluster.api, waiting.id, ['t-g']);
    const { body: other } = await cluster.api.post('/v1/tasks', ask([quick('t-q1', 50), quick('t-q2', 50)]));
    const otherTask = await cluster.api.waitForTask(other.id, 5_000);
    expect(otherTask.status).toBe('completed');
    expect(otherTask.updated_at).toBeLessThan(shown.pending_approvals[0].timeout_at);

    const task = await cluster.api.waitForTask(waiting.id, TIMEOUT_MS + 5_000);
    expect(task.status).toBe('completed');
    expect(toolContent(task, 't-g').error.code).toBe('approval_timeout');
    const late = task.turns[0].tool_calls[0].finished_at - shown.pending_approvals[0].timeout_at;
    process.stdout.write(`approval timeout answered ${late} ms past timeout_at\n`);
    expect(late).toBeLessThan(1_500);
    // The later writer waited past its own lock wait timeout (500 ms), behind the waiting call.
    expect((await runs(redis, ['t-g', 't-w'])).map((r) => r.label)).toEqual(['t-w']);
    expect(task.turns[0].tool_calls[1]).toMatchObject({ id: 't-w', status: 'succeeded' });
    const decided = (await events(redis, waiting.id)).find((e) => e.event === 'approval.decided');
    expect(decided?.data).toMatchObject({ tool_call_id: 't-g', approve: false, by: 'timeout' });
  });
});

describe('a call approved late, on workers with a short lock wait', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      toolModules: [APPROVAL_TOOLS],
      // The call behind looks again every 100 ms, so it surely looks while the approved call runs.
      workerEnv: { VOLLEY_LOCK_PARK_MS: '100', VOLLEY_LOCK_WAIT_TIMEOUT_MS: '500' },
      respond: callsFromQuestion,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('lets the call behind it wait out the approved run, a lock wait from the approval, though it waited longer already', async () => {
    const { body: created } = await cluster.api.post('/v1/tasks', ask([write('l-g', 'guarded_write', 'rec-l', 400), write('l-w', 'plain_write', 'rec-l')]));
    await awaitingApproval(cluster.api, created.id, ['l-g']);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await cluster.api.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'l-g', approve: true }] });
    const task = await cluster.api.waitForTask(created.id);
    expect(task.turns[0].tool_calls.map((c: any) => [c.id, c.status])).toEqual([
      ['l-g', 'succeeded'],
      ['l-w', 'succeeded'],
    ]);
    const [g, w] = await runs(redis, ['l-g', 'l-w']);
    expect(w!.enter).toBeGreaterThanOrEqual(g!.exit);
  });
});

describe('an approval across the death of every process', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      orchestrators: 2,
      toolModules: [APPROVAL_TOOLS],
      // A call killed mid-pick-up (a parked call looks again every second) is back within ~3 s.
      workerEnv: { ...WORKER_ENV, VOLLEY_JOB_LOCK_MS: '2000', VOLLEY_STALLED_INTERVAL_MS: '1000' },
      respond: callsFromQuestion,
      redis: { appendOnly: true, backend: 'redis-server' },
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('survives killing every orchestrator and worker, and restarting Redis, while it waits', async () => {
    const calls = [write('c-g', 'guarded_write', 'rec-c'), quick('c-q'), write('c-w', 'plain_write', 'rec-c')];
    const { body: created } = await cluster.api.post('/v1/tasks', ask(calls));
    await awaitingApproval(cluster.api, created.id, ['c-g']);
    await waitFor(async () => (await runs(redis, ['c-q'])).length === 1);

    const killedAt = Date.now();
    await Promise.all([...cluster.workers, ...cluster.orchestrators].map((child) => child.kill()));
    await cluster.redis.restart!();
    await cluster.addWorker('worker-3');
    const api = await cluster.addOrchestrator();

    const shown = await awaitingApproval(api, created.id, ['c-g']);
    expect(shown.pending_approvals[0].name).toBe('guarded_write');
    const restartedAt = Date.now();
    const decided = await api.post(`/v1/tasks/${created.id}/approvals`, { decisions: [{ tool_call_id: 'c-g', approve: true }] });
    expect(decided.status).toBe(200);
    const task = await api.waitForTask(created.id, 30_000);
    process.stdout.write(`kill + Redis restart → processes back: ${restartedAt - killedAt} ms; approval → task completed: ${Date.now() - restartedAt} ms\n`);
    expect(task.status).toBe('completed');
    const [g, w] = await runs(redis, ['c-g', 'c-w']);
    expect([g?.label, w?.label]).toEqual(['c-g', 'c-w']);
    expect(w!.enter).toBeGreaterThanOrEqual(g!.exit);
  });
});
