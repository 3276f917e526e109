import { fanOutId, taskStepJobId, toolCallJobId } from '@volley/shared';
import { waitFor } from '@volley/shared/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Api, type Cluster } from './support/cluster.ts';
import { ask, callsFromQuestion as respond, mark } from './support/scripted-calls.ts';

/** Short job locks: a paused orchestrator loses its step within ~2 s. */
const FAST = { VOLLEY_JOB_LOCK_MS: '1500', VOLLEY_STALLED_INTERVAL_MS: '750' };

describe('a step writes only while it owns its job', () => {
  let cluster: Cluster;
  let redis: Redis;
  let second: Api;

  beforeAll(async () => {
    cluster = await startCluster({
      workers: 2,
      orchestrators: 1,
      toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
      workerEnv: FAST,
      orchestratorEnv: FAST,
      respond,
    });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /**
   * The first orchestrator is paused (SIGSTOP) while its model call is in flight, so its step
   * job lock lapses and a second orchestrator takes the step over; the first is resumed later.
   */
  async function pauseFirstDuringModelCall(calls: unknown[]): Promise<string> {
    const [first] = cluster.orchestrators;
    cluster.model.setLatency(1_500);
    const received = cluster.model.load.received;
    const { body } = await cluster.api.post('/v1/tasks', ask(calls));
    await waitFor(() => cluster.model.load.received > received);
    first!.pause();
    cluster.model.setLatency(0);
    second ??= await cluster.addOrchestrator();
    return body.id;
  }

  describe('when a paused orchestrator wakes up after another took its step over', () => {
    it('writes nothing, adds no fan-out, and no call runs twice', async () => {
      const [first] = cluster.orchestrators;
      const id = await pauseFirstDuringModelCall([mark('fs-a', 2_500), mark('fs-b', 2_500)]);
      // The second instance redid the step: its calls run.
      await waitFor(async () => (await redis.llen('test:marks:fs-a')) === 1 && (await redis.llen('test:marks:fs-b')) === 1, { timeoutMs: 10_000 });

      // Woken mid-turn, the first one has its model answer and tries to record and fan it out.
      first!.resume();
      await first!.waitForLine((line) => line.msg === 'step taken over by another process while this one stalled; it stops without writing', 10_000);

      const task = await second.waitForTask(id, 15_000);
      expect(task.status).toBe('completed');
      expect(task.turns).toHaveLength(2);
      expect(task.messages.filter((m: any) => m.role === 'assistant')).toHaveLength(2);
      expect(task.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id)).toEqual(['fs-a', 'fs-b']);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await redis.llen('test:marks:fs-a')).toBe(1);
      expect(await redis.llen('test:marks:fs-b')).toBe(1);
    });
  });

  describe('when a paused orchestrator wakes up after its task finished', () => {
    it('leaves the finished record as it is', async () => {
      const [first] = cluster.orchestrators;
      const id = await pauseFirstDuringModelCall([mark('fs-done', 10)]);
      const task = await second.waitForTask(id, 15_000);
      expect(task.status).toBe('completed');
      const before = await second.get(`/v1/tasks/${id}`);

      first!.resume();
      // Its model answer arrives and it runs on; give it time to try to write.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await second.get(`/v1/tasks/${id}`)).toEqual(before);
      expect(await redis.llen('test:marks:fs-done')).toBe(1);
      expect(first!.alive()).toBe(true);
    });
  });

  describe('when a call that was gathered already is enqueued again', () => {
    it('is answered from its fan-in and does not run again', async () => {
      const { body } = await cluster.api.post('/v1/tasks', ask([mark('fs-g1', 10), mark('fs-g2', 2_000)]));
      await waitFor(async () => (await redis.llen('test:done:fs-g1')) === 1);
      const jobId = toolCallJobId(fanOutId(body.id, 0), 0);
      const tools = new Queue('tools-default', { connection: redis, prefix: 'volley' });
      await waitFor(async () => (await tools.getJob(jobId)) === undefined, { message: 'the finished call was not removed' });

      // What a step that ran twice would do: the same call, under the same fan-in, again.
      await tools.add(
        'mark',
        { taskId: body.id, toolCallId: 'fs-g1', name: 'mark', arguments: JSON.stringify({ label: 'fs-g1', ms: 10 }), turn: 0 },
        { jobId, parent: { id: taskStepJobId(body.id, 1), queue: 'volley:turns' }, removeOnComplete: true },
      );
      const task = await cluster.api.waitForTask(body.id, 15_000);
      expect(task.status).toBe('completed');
      expect(await redis.llen('test:marks:fs-g1')).toBe(1);
      expect(JSON.parse(task.messages.find((m: any) => m.tool_call_id === 'fs-g1').content)).toMatchObject({ label: 'fs-g1' });

      // Once its turn is gathered, the same call enqueued again, whatever its fan-in, never runs.
      await tools.add(
        'mark',
        { taskId: body.id, toolCallId: 'fs-g1', name: 'mark', arguments: JSON.stringify({ label: 'fs-g1', ms: 10 }), turn: 0 },
        { jobId: `${jobId}-again`, removeOnComplete: true },
      );
      await waitFor(async () => (await tools.getJob(`${jobId}-again`)) === undefined);
      expect(await redis.llen('test:marks:fs-g1')).toBe(1);
    });
  });
});
