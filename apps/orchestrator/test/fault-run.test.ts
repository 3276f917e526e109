import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '@volley/shared/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODIES_KEY, bodyRuns, describeOverlap, overlapsOn, wallOverlapCount, type BodyRecord } from './support/body-runs.ts';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { FaultInjector, type FaultKind } from './support/fault-injector.ts';
import { LiveOrchestrators } from './support/live-orchestrators.ts';
import { ask, callsFromQuestion, seeded } from './support/scripted-calls.ts';
import { families, isSingleton, keysMatching, keysWithoutTtl, TOOL_DATA } from './support/volley-keys.ts';

/**
 * The fault run: over a thousand tool calls — locking (shared keys, readers and writers, calls
 * holding two keys), sequential tasks, ledger appends, tasks cancelled while they run — while
 * workers and orchestrators are SIGKILLed (and replaced) and SIGSTOPped past their job locks and
 * leases (then continued), and Redis is frozen a few times. Everything is drawn from one seeded
 * generator (VOLLEY_FAULT_SEED replays a run's plan; the timing of processes still varies).
 */

const FAULT_TOOLS = fileURLToPath(new URL('./fixtures/fault-tools.ts', import.meta.url));
const SEED = Number(process.env.VOLLEY_FAULT_SEED ?? 10);
const TASKS = 160;
/** Tasks are submitted over this long, and faults go on this long. */
const SUBMIT_MS = 30_000;
const CHAOS_MS = 40_000;
const SETTLE_MS = 60_000;
const SHARED_KEYS = ['fault:k0', 'fault:k1', 'fault:k2', 'fault:k3', 'fault:k4', 'fault:k5'];
const ACCOUNTS = ['fault-a0', 'fault-a1', 'fault-a2'];
const QUEUES = ['tools-default', 'turns'];
// Short job locks, stall checks and leases (as chaos.test.ts), so takeovers happen within the run;
// a generous stall budget, so calls whose workers keep dying still complete.
const FAST = { VOLLEY_JOB_LOCK_MS: '1500', VOLLEY_STALLED_INTERVAL_MS: '750', VOLLEY_LOCK_LEASE_MS: '1500', VOLLEY_MAX_STALLED_COUNT: '25' };

/** How many of each fault the run injects, one every 1–2 s (in a seeded order). */
const FAULTS: Record<FaultKind, number> = { 'kill worker': 6, 'pause worker': 5, 'kill orchestrator': 3, 'pause orchestrator': 3, 'freeze redis': 3 };
const FAULT_EVERY_MS = [1_000, 2_000] as const;
/** Faults not yet injected when the chaos time is up (none could be done safely) get this much longer. */
const CHAOS_GRACE_MS = 10_000;

type Claim = { key: string; mode: 'read' | 'write' };
type PlannedCall = { id: string; name: string; arguments: Record<string, unknown> };
interface PlannedTask {
  index: number;
  execution: 'parallel' | 'sequential';
  calls: PlannedCall[];
  /** Cancelled this long after submission, if at all. */
  cancelAfterMs?: number;
  id?: string;
  submittedAt?: number;
  cancel?: { at: number; answered: string };
}

function shuffle<T>(random: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function plan(random: () => number): PlannedTask[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const ms = () => 20 + Math.floor(random() * 180);
  const two = (): Claim[] => {
    const first = pick(SHARED_KEYS);
    const other = pick(SHARED_KEYS.filter((key) => key !== first));
    return [
      { key: first, mode: 'write' },
      { key: other, mode: random() < 0.5 ? 'write' : 'read' },
    ];
  };
  return Array.from({ length: TASKS }, (_, t): PlannedTask => {
    const execution = random() < 0.3 ? 'sequential' : 'parallel';
    const count = execution === 'parallel' ? 6 + Math.floor(random() * 4) : 4 + Math.floor(random() * 3);
    const calls = Array.from({ length: count }, (_, c): PlannedCall => {
      const id = `t${t}c${c}`;
      const touch = (claims: Claim[], name = 'guarded_touch', length = ms()) => ({ id, name, arguments: { label: id, claims, ms: length } });
      const r = random();
      if (execution === 'parallel') {
        if (r < 0.25) return touch([{ key: pick(SHARED_KEYS), mode: 'write' }]);
        if (r < 0.4) return touch([{ key: pick(SHARED_KEYS), mode: 'read' }]);
        if (r < 0.52) return touch(two());
        if (r < 0.64) return { id, name: 'ledger_append', arguments: { account: pick(ACCOUNTS), amount: Math.floor(random() * 151) - 50, memo: id } };
        // Outlives its tool's 300 ms timeout now and then: an abandoned body still holding its key.
        if (r < 0.67) return touch([{ key: pick(SHARED_KEYS), mode: 'write' }], 'stubborn_touch', 100 + Math.floor(random() * 400));
        return touch([]);
      }
      if (r < 0.35) return touch([]);
      if (r < 0.6) return touch([{ key: pick(SHARED_KEYS), mode: 'write' }]);
      if (r < 0.7) return touch([{ key: pick(SHARED_KEYS), mode: 'read' }]);
      if (r < 0.85) return { id, name: 'ledger_append', arguments: { account: pick(ACCOUNTS), amount: Math.floor(random() * 151) - 50, memo: id } };
      return touch(two());
    });
    return { index: t, execution, calls, ...(random() < 0.15 ? { cancelAfterMs: 100 + Math.floor(random() * 1_400) } : {}) };
  });
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const clip = (text: string, length = 400) => (text.length > length ? `${text.slice(0, length)}…` : text);

/**
 * What the processes said about the tasks a problem names, and which warnings and errors each
 * logged, so a failed run explains itself.
 */
function evidence(cluster: Cluster, problems: Record<string, string[]>, records: ReadonlyMap<string, any>): string {
  const out: string[] = [];
  const children = [...cluster.orchestrators, ...cluster.workers];
  for (const child of children) {
    const byMsg = new Map<string, number>();
    for (const line of child.lines) if ((line.level as number) >= 40) byMsg.set(String(line.msg), (byMsg.get(String(line.msg)) ?? 0) + 1);
    if (byMsg.size > 0) out.push(`${child.name} warned/erred: ${[...byMsg].map(([msg, n]) => `${n}× ${msg}`).join('; ')}`);
  }
  const named = [...new Set(Object.values(problems).flat().join('\n').match(UUID) ?? [])].slice(0, 8);
  for (const id of named) {
    const record = records.get(id);
    out.push(`--- task ${id}: ${record ? `${record.status} ${JSON.stringify(record.error ?? null)}` : 'no terminal record'}`);
    if (record) {
      for (const call of record.turns.flatMap((turn: any) => turn.tool_calls ?? [])) {
        out.push(`    ${call.id} ${call.name} ${call.status} attempts ${call.attempts} on ${call.worker_id} ${call.error ? JSON.stringify(call.error) : ''}`);
      }
    }
    for (const child of children) {
      const lines = child.lines.filter((line) => JSON.stringify(line).includes(id));
      for (const line of lines.slice(0, 12)) {
        const { level, time, msg, err, ...rest } = line as Record<string, any>;
        out.push(
          `    [${child.name} ${time} L${level}] ${msg} ${clip(JSON.stringify({ ...rest, pid: undefined, name: undefined, ...(err ? { err: err.message } : {}) }), 300)}`,
        );
      }
    }
  }
  return `${out.join('\n')}\n`;
}

describe('fault run: a thousand calls of every kind while processes die, stall and Redis freezes', () => {
  let cluster: Cluster;
  let redis: Redis;
  const modelRandom = seeded(SEED + 1);

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 3,
      orchestrators: 2,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS, FAULT_TOOLS],
      workerEnv: { ...FAST, VOLLEY_LOCK_PARK_MS: '1000' },
      orchestratorEnv: FAST,
      // A little model latency, so a paused orchestrator is caught in a step now and then.
      respond: async (request) => {
        await delay(20 + Math.floor(modelRandom() * 100));
        return callsFromQuestion(request);
      },
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('ends every task, gathers each call once, never lets conflicting bodies overlap, applies each effect once, and leaves nothing behind', async () => {
    const startedAt = Date.now();
    const random = seeded(SEED);
    const tasks = plan(random);
    const totalCalls = tasks.reduce((sum, task) => sum + task.calls.length, 0);
    expect(totalCalls).toBeGreaterThanOrEqual(1_000);
    const live = new LiveOrchestrators(cluster);
    const problems: Record<string, string[]> = {
      submissions: [],
      statuses: [],
      transcripts: [],
      callErrors: [],
      exclusion: [],
      sequential: [],
      vanished: [],
      ledger: [],
      queues: [],
      lockLines: [],
      ttlLess: [],
    };

    // --- the chaos: submissions, cancels and faults, from one loop ------------------------------
    // The faults of the run, in a seeded order; one that cannot be done when its turn comes (no
    // survivor would be left) waits, and the first that can goes instead.
    const schedule = shuffle(
      random,
      Object.entries(FAULTS).flatMap(([kind, n]) => Array.from({ length: n }, () => kind as FaultKind)),
    );
    // Paused past the job lock (1.5 s) and stall check (0.75 s), and the lock lease (1.5 s): its work is taken over.
    const faults = new FaultInjector(cluster, live, random, schedule, { pauseMs: [3_000, 4_000], freezeMs: [1_000, 2_000], freezeGapMs: 6_000 });
    const { kills, stalls, counts } = faults;
    let nextFault = Date.now() + 1_000;
    let submitted = 0;
    const chaosEnds = startedAt + CHAOS_MS;

    while (Date.now() < chaosEnds || (faults.remaining().length > 0 && Date.now() < chaosEnds + CHAOS_GRACE_MS)) {
      const now = Date.now();
      // Submissions and cancels only while Redis answers and to a running orchestrator: a POST
      // that got no answer could still have made a task, and a retry would make it twice.
      if (!faults.frozen()) {
        const due = Math.min(TASKS, Math.ceil(((now - startedAt) / SUBMIT_MS) * TASKS));
        while (submitted < due) {
          const task = tasks[submitted]!;
          submitted += 1;
          try {
            const body = { ...ask(task.calls), ...(task.execution === 'sequential' ? { execution: 'sequential' } : {}) };
            const answer = await live.once('POST', '/v1/tasks', body, { timeoutMs: 5_000, pick: (n) => Math.floor(random() * n) });
            if (answer.status !== 202) throw new Error(`answered ${answer.status}: ${JSON.stringify(answer.body)}`);
            task.id = answer.body.id;
            task.submittedAt = Date.now();
          } catch (error) {
            problems.submissions!.push(`task ${task.index}: ${String(error)}`);
          }
        }
        for (const task of tasks) {
          if (!task.id || task.cancelAfterMs === undefined || task.cancel || Date.now() < task.submittedAt! + task.cancelAfterMs) continue;
          const at = Date.now();
          const answer = await live
            .retried('POST', `/v1/tasks/${task.id}/cancel`, {}, 10_000)
            .catch((error: Error) => ({ status: 0, body: { status: String(error) } }));
          task.cancel = { at, answered: answer.status === 200 ? answer.body.status : `HTTP ${answer.status}: ${JSON.stringify(answer.body)}` };
          if (answer.status !== 200) problems.submissions!.push(`cancel of task ${task.index} (${task.id}): ${task.cancel.answered}`);
        }
      }
      if (now >= nextFault && faults.remaining().length > 0) {
        await faults.injectNext();
        nextFault = Date.now() + FAULT_EVERY_MS[0] + Math.floor(random() * (FAULT_EVERY_MS[1] - FAULT_EVERY_MS[0]));
      }
      await delay(100);
    }
    await faults.settle();
    const chaosMs = Date.now() - startedAt;

    // --- every task ends --------------------------------------------------------------------------
    const records = new Map<string, any>();
    const settleBy = Date.now() + SETTLE_MS;
    while (Date.now() < settleBy) {
      const open = tasks.filter((task) => task.id && !records.has(task.id));
      if (open.length === 0) break;
      for (let i = 0; i < open.length; i += 16) {
        await Promise.all(
          open.slice(i, i + 16).map(async (task) => {
            const { status, body } = await live.retried('GET', `/v1/tasks/${task.id}`, undefined, 10_000);
            if (status === 200 && ['completed', 'failed', 'cancelled'].includes(body.status)) records.set(task.id!, body);
          }),
        );
      }
      await delay(500);
    }
    const settledMs = Date.now() - startedAt;

    for (const task of tasks) {
      if (!task.id) continue;
      const record = records.get(task.id);
      const expected = task.calls.map((call) => call.id);
      if (!record) {
        problems.statuses!.push(`task ${task.index} (${task.id}, ${task.execution}) did not end within ${SETTLE_MS} ms of the chaos`);
        continue;
      }
      const allowed = task.cancel ? ['cancelled', 'completed'] : ['completed'];
      if (!allowed.includes(record.status)) {
        problems.statuses!.push(
          `task ${task.index} (${task.id}, ${task.execution}${task.cancel ? ', cancelled' : ''}) ended ${record.status}: ${JSON.stringify(record.error)}`,
        );
      }
      if (record.status !== 'completed') continue;
      // Nothing here fails on its own but a stubborn body outliving its timeout: any other error
      // gathered is a call the faults broke (crashed, lost its lock, or a stale run's answer).
      task.calls.forEach((call, index) => {
        const outcome = record.turns[0]?.tool_calls?.[index];
        const expectedError = call.name === 'stubborn_touch' && outcome?.error?.code === 'tool_timeout';
        if (outcome?.status !== 'succeeded' && !expectedError) {
          problems.callErrors!.push(
            `task ${task.index} (${task.id}, ${task.execution}) ${call.id} ${call.name}: ${outcome?.status} ${JSON.stringify(outcome?.error)} after ${outcome?.attempts} attempts on ${outcome?.worker_id}`,
          );
        }
      });
      const toolMessages = record.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id);
      const asked = record.messages.filter((m: any) => m.role === 'assistant' && m.tool_calls?.length > 0);
      const gathered = record.turns[0]?.tool_calls?.map((c: any) => c.id);
      if (
        JSON.stringify(toolMessages) !== JSON.stringify(expected) ||
        asked.length !== 1 ||
        JSON.stringify(asked[0].tool_calls.map((c: any) => c.id)) !== JSON.stringify(expected) ||
        JSON.stringify(gathered) !== JSON.stringify(expected)
      ) {
        problems.transcripts!.push(
          `task ${task.index} (${task.id}): tool messages ${JSON.stringify(toolMessages)}, ${asked.length} assistant messages with calls, ` +
            `turn 0 calls ${JSON.stringify(gathered)}; expected ${JSON.stringify(expected)}`,
        );
      }
    }

    // --- nothing left in the queues or the lock lines ---------------------------------------------
    const queues = QUEUES.map((name) => new Queue(name, { connection: redis, prefix: 'volley' }));
    const states = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;
    const jobCounts = () => Promise.all(queues.map((queue) => queue.getJobCounts(...states)));
    const drained = (all: Array<Record<string, number>>) => all.every((c) => states.every((state) => c[state] === 0));
    await waitFor(async () => drained(await jobCounts()), { timeoutMs: 15_000 }).catch(() => undefined);
    const finalCounts = await jobCounts();
    QUEUES.forEach((name, index) => {
      const left = Object.entries(finalCounts[index]!).filter(([, n]) => n > 0);
      if (left.length > 0) problems.queues!.push(`${name}: ${left.map(([state, n]) => `${n} ${state}`).join(', ')}`);
    });
    const failedJobs = await Promise.all(queues.map((queue) => queue.getJobCounts('failed')));
    await waitFor(async () => (await keysMatching(redis, 'lock:[qhm]:*')).length === 0, { timeoutMs: 5_000 }).catch(() => undefined);
    for (const key of await keysMatching(redis, 'lock:[qhm]:*')) {
      const kind = key.split(':')[2];
      const members = kind === 'q' ? await redis.zrange(key, '0', '-1') : await redis.hkeys(key);
      problems.lockLines!.push(`${key}: ${members.join(', ')}`);
    }

    // --- bodies: who held what, and when ----------------------------------------------------------
    // A stubborn body may still be finishing: give every body that entered time to leave.
    const readRecords = async () => (await redis.lrange(BODIES_KEY, 0, -1)).map((line) => JSON.parse(line) as BodyRecord);
    await waitFor(async () => bodyRuns(await readRecords(), kills, stalls).every((run) => run.end !== 'vanished'), { timeoutMs: 5_000 }).catch(() => undefined);
    const sequentialTasks = new Set(tasks.filter((task) => task.execution === 'sequential' && task.id).map((task) => task.id!));
    const runs = bodyRuns(await readRecords(), kills, stalls).map((run) =>
      // A sequential task's bodies must not overlap whatever tokens the engine gave them: one
      // without a sequence token has nothing to be fenced by.
      sequentialTasks.has(run.task) && !run.fences.some((fence) => fence.key.startsWith('sequence:'))
        ? { ...run, fences: [...run.fences, { key: `sequence:${run.task}`, mode: 'write' as const, token: 0 }] }
        : run,
    );
    const overlaps = overlapsOn(runs);
    for (const overlap of overlaps.filter((o) => !o.fenced)) {
      (overlap.key.startsWith('sequence:') ? problems.sequential! : problems.exclusion!).push(describeOverlap(overlap));
    }
    for (const run of runs.filter((r) => r.end === 'vanished')) {
      problems.vanished!.push(`${run.label}#${run.attempt} on ${run.worker} entered at ${Math.round(run.enter)} and never left (its worker was not killed)`);
    }

    // --- the ledger: each effect once ---------------------------------------------------------------
    const ledgerCalls = new Map<string, { task: PlannedTask; call: PlannedCall }>();
    for (const task of tasks) {
      for (const call of task.calls) if (task.id && call.name === 'ledger_append') ledgerCalls.set(`${task.id}/${call.id}`, { task, call });
    }
    const seenKeys = new Map<string, number>();
    let expectedBalanceTotal = 0;
    let ledgerEntries = 0;
    for (const account of ACCOUNTS) {
      const entries = (await redis.lrange(`volley:ledger:${account}:entries`, 0, -1)).map((line) => JSON.parse(line));
      ledgerEntries += entries.length;
      const balance = Number((await redis.get(`volley:ledger:${account}:balance`)) ?? 0);
      const sum = entries.reduce((total: number, entry: any) => total + entry.amount, 0);
      if (balance !== sum) problems.ledger!.push(`${account}: balance ${balance}, but its entries sum to ${sum}`);
      expectedBalanceTotal += balance;
      for (const entry of entries) {
        seenKeys.set(entry.idempotency_key, (seenKeys.get(entry.idempotency_key) ?? 0) + 1);
        // The idempotency key is `<job id>/<tool_call_id>`, the job id `<task id>-t0-c<index>`.
        const [jobId, toolCallId] = String(entry.idempotency_key).split('/');
        const taskId = jobId!.replace(/-t\d+-c\d+$/, '');
        const planned = ledgerCalls.get(`${taskId}/${toolCallId}`);
        if (!planned) problems.ledger!.push(`${account}: entry ${entry.idempotency_key} belongs to no planned ledger call`);
        else if (planned.call.arguments.account !== account || planned.call.arguments.amount !== entry.amount) {
          problems.ledger!.push(`${account}: entry ${entry.idempotency_key} is ${entry.amount}, its call asked ${JSON.stringify(planned.call.arguments)}`);
        }
      }
    }
    for (const [key, n] of seenKeys) if (n > 1) problems.ledger!.push(`idempotency key ${key} has ${n} entries`);
    let appliedByCompleted = 0;
    let appliedByCancelled = 0;
    const entryCount = (task: PlannedTask, call: PlannedCall) =>
      [...seenKeys].filter(([key]) => key.startsWith(`${task.id}-`) && key.endsWith(`/${call.id}`)).reduce((n, [, count]) => n + count, 0);
    for (const { task, call } of ledgerCalls.values()) {
      const record = records.get(task.id!);
      const n = entryCount(task, call);
      if (record?.status === 'completed') {
        const index = task.calls.indexOf(call);
        const outcome = record.turns[0]?.tool_calls?.[index];
        if (outcome?.status === 'succeeded') {
          if (n !== 1) problems.ledger!.push(`task ${task.index} ${call.id}: succeeded, with ${n} ledger entries`);
          appliedByCompleted += n === 1 ? (call.arguments.amount as number) : 0;
        } else if (n > 0) {
          problems.ledger!.push(
            `task ${task.index} ${call.id}: ${outcome?.status} (${JSON.stringify(outcome?.error)}), yet its effect is in the ledger ${n} time(s)`,
          );
        }
      } else if (n > 0) {
        appliedByCancelled += call.arguments.amount as number;
      }
    }
    if (expectedBalanceTotal !== appliedByCompleted + appliedByCancelled) {
      problems.ledger!.push(
        `balances total ${expectedBalanceTotal}; the completed calls applied ${appliedByCompleted} and calls of cancelled tasks ${appliedByCancelled}`,
      );
    }

    // --- bookkeeping left over: TTL-less keys beyond the singletons -------------------------------
    const ttlLess = await keysWithoutTtl(redis);
    const growing = ttlLess.filter((key) => !isSingleton(key) && !TOOL_DATA.test(key));
    for (const family of families(growing)) problems.ttlLess!.push(`volley:${family.family} — ${family.count} keys, e.g. volley:${family.example}`);
    await Promise.all(queues.map((queue) => queue.close()));

    // --- figures ----------------------------------------------------------------------------------
    const allCalls = [...records.values()].flatMap((record) => record.turns.flatMap((turn: any) => turn.tool_calls ?? []));
    const retriedCalls = allCalls.filter((call: any) => call.attempts > 1).length;
    const errorCodes = new Map<string, number>();
    for (const call of allCalls) if (call.error) errorCodes.set(call.error.code, (errorCodes.get(call.error.code) ?? 0) + 1);
    const statusCounts = new Map<string, number>();
    for (const record of records.values()) statusCounts.set(record.status, (statusCounts.get(record.status) ?? 0) + 1);
    const cancelRequested = tasks.filter((task) => task.cancel);
    // A step taken over after its orchestrator stalled may ask the model again: count the askings per task and turn.
    const askings = new Map<string, number>();
    for (const request of cluster.model.requests) {
      const question = String(request.body.messages.find((m) => m.role === 'user')?.content ?? '');
      const turn = request.body.messages.filter((m) => m.role === 'assistant').length;
      const key = `${/"id":"(t\d+)c0"/.exec(question)?.[1]}/${turn}`;
      askings.set(key, (askings.get(key) ?? 0) + 1);
    }
    const askedAgain = [...askings.values()].reduce((sum, n) => sum + n - 1, 0);
    const figures = [
      `fault run (seed ${SEED}): ${totalCalls} tool calls in ${tasks.length} tasks ` +
        `(${tasks.filter((t) => t.execution === 'parallel').length} parallel, ${sequentialTasks.size} sequential; ${cancelRequested.length} cancelled while running, ` +
        `${cancelRequested.filter((t) => t.cancel!.answered === 'completed').length} of them had completed first)`,
      `  faults: ${counts.workerKills} workers and ${counts.orchestratorKills} orchestrators SIGKILLed and replaced; ` +
        `${counts.workerPauses} workers and ${counts.orchestratorPauses} orchestrators SIGSTOPped for 3–4 s; Redis frozen ${counts.freezes} times for 1–2 s`,
      `  retries: ${retriedCalls} gathered calls took more than one attempt; ${runs.filter((r) => r.attempt > 1).length} of ${runs.length} tool bodies ran on a later attempt; ` +
        `${runs.filter((r) => r.end === 'killed').length} bodies died with their worker; ${runs.filter((r) => r.stalled && !r.committed && r.end === 'exited').length} stale bodies were fenced off; ` +
        `${cluster.model.requests.length} model calls, ${askedAgain} of them a step asking again after a takeover`,
      `  overlaps: ${wallOverlapCount(runs)} conflicting pairs crossed in wall-clock time (pauses included), ${overlaps.length} while both were running, ` +
        `${overlaps.filter((o) => o.fenced).length} of them a paused or Redis-stalled holder fenced out`,
      `  ends: ${[...statusCounts].map(([s, n]) => `${n} ${s}`).join(', ')}; call errors: ${[...errorCodes].map(([c, n]) => `${n} ${c}`).join(', ') || 'none'}; ` +
        `ledger: ${ledgerEntries} entries; failed jobs kept: ${QUEUES.map((q, i) => `${q} ${failedJobs[i]!.failed}`).join(', ')}`,
      `  duration: ${Math.round(chaosMs / 1000)} s of chaos, all tasks ended ${Math.round((settledMs - chaosMs) / 1000)} s later; ${Math.round((Date.now() - startedAt) / 1000)} s in all`,
      `  TTL-less keys: ${ttlLess.filter((k) => !TOOL_DATA.test(k)).length} (${families(ttlLess.filter((k) => !TOOL_DATA.test(k)))
        .map((f) => `${f.family}×${f.count}`)
        .join(', ')})`,
    ];
    process.stdout.write(`${figures.join('\n')}\n`);
    for (const [name, list] of Object.entries(problems)) {
      if (list.length > 0) process.stdout.write(`fault run: ${list.length} ${name} problems:\n  ${list.slice(0, 25).join('\n  ')}\n`);
    }
    if (Object.values(problems).some((list) => list.length > 0)) {
      process.stdout.write(`faults, in order:\n  ${faults.timeline.join('\n  ')}\n${evidence(cluster, problems, records)}`);
    }

    expect.soft(faults.remaining(), 'faults that were never injected').toEqual([]);
    for (const [name, list] of Object.entries(problems)) expect.soft(list, name).toEqual([]);
  }, 180_000);
});
