import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { assistant, call, callsFromQuestion as respond, firstEntry } from './support/scripted-calls.ts';

// Dead processes are noticed within seconds: job locks of 2 s, stall checks every second.
const FAST_RECOVERY = { VOLLEY_JOB_LOCK_MS: '2000', VOLLEY_STALLED_INTERVAL_MS: '1000' };

/**
 * A bare fan-out has no parent job: each call's worker delivers its result to the request's
 * inbox. These are the faults where that delivery could go wrong.
 */
describe('bare fan-outs, whose calls deliver their own results', () => {
  describe('when a worker is paused past its job lock mid-call and wakes after the call was handed on', () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await startCluster({ workers: 2, toolModules: [TEST_TOOLS, STATEFUL_TOOLS], workerEnv: FAST_RECOVERY, respond });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it("answers with the redelivered run's result: the woken run's delivery is refused", async () => {
      const answer = cluster.api.post('/v1/tool-calls', {
        message: assistant(call('paused', 'mark', { label: 'bare-paused', ms: 3_000 })),
        timeout_ms: 30_000,
      });
      const started = await firstEntry<{ worker: string }>(cluster.client, 'test:marks:bare-paused');
      const paused = cluster.workers.find((worker) => worker.name === started.worker)!;
      paused.pause();
      // The other worker takes the call over once the paused one's job lock lapsed.
      await waitFor(async () => (await cluster.client.llen('test:marks:bare-paused')) === 2, { timeoutMs: 10_000 });
      // Woken now, the paused run's sleep is over at once: it finishes, and tries to deliver, first.
      paused.resume();
      const { status, body } = await answer;
      expect(status).toBe(200);
      const other = cluster.workers.find((worker) => worker !== paused)!.name;
      expect(body.calls[0]).toMatchObject({ id: 'paused', status: 'succeeded', worker_id: other, attempts: 2 });
      expect(JSON.parse(body.messages[0].content)).toMatchObject({ label: 'bare-paused', worker: other, attempt: 2 });
    });
  });

  describe('when the workers of a call keep dying', () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await startCluster({
        workers: 2,
        toolModules: [TEST_TOOLS, STATEFUL_TOOLS],
        // The first stall fails the call for good.
        workerEnv: { ...FAST_RECOVERY, VOLLEY_MAX_STALLED_COUNT: '0' },
        respond,
      });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('answers that call tool_crashed long before the deadline, and the other calls with their results', async () => {
      const requested = Date.now();
      const answer = cluster.api.post('/v1/tool-calls', {
        message: assistant(call('dies', 'mark', { label: 'bare-dies', ms: 20_000 }), call('lives', 'mark', { label: 'bare-lives', ms: 10 })),
        timeout_ms: 60_000,
      });
      const started = await firstEntry<{ worker: string }>(cluster.client, 'test:marks:bare-dies');
      // The other call done first (delivered, its job gone), or it dies with its worker when both ran on one.
      await firstEntry(cluster.client, 'test:marks:bare-lives');
      await waitFor(async () => (await cluster.client.llen('volley:tools-default:active')) === 1, { message: 'the other call did not finish' });
      await cluster.workers.find((worker) => worker.name === started.worker)!.kill();
      const { status, body } = await answer;
      expect(status).toBe(200);
      expect(Date.now() - requested).toBeLessThan(15_000);
      expect(body.calls.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([
        ['dies', 'failed'],
        ['lives', 'succeeded'],
      ]);
      const crashed = JSON.parse(body.messages[0].content);
      expect(crashed.error.code).toBe('tool_crashed');
      expect(crashed.error.message).toContain('stalled');
      expect(await cluster.client.llen('test:done:bare-dies')).toBe(0);
    });
  });
});
