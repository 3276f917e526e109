import { waitFor } from '@volley/shared/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { ask, callsFromQuestion as respond, mark } from './support/scripted-calls.ts';

/** Drops every subscriber connection, again and again, for `ms`: no cancel message gets through. */
async function dropPubSubFor(redis: Redis, ms: number, during: () => Promise<unknown>): Promise<number> {
  let dropping = true;
  let dropped = 0;
  const loop = (async () => {
    while (dropping) {
      dropped += Number(await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  // Let the first kill land before the cancel goes out.
  await waitFor(() => dropped > 0);
  await during();
  await new Promise((resolve) => setTimeout(resolve, ms));
  dropping = false;
  await loop;
  return dropped;
}

async function sequenceLines(redis: Redis): Promise<number> {
  return (await redis.keys('volley:lock:q:*sequence:*')).length;
}

describe('cancel is durable', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, toolModules: [TEST_TOOLS, STATEFUL_TOOLS], workerEnv: { VOLLEY_CANCEL_POLL_MS: '500' }, respond });
    redis = cluster.client;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when the cancel message is lost (subscribers dropped)', () => {
    it('still aborts the running call within the poll bound, and the next call of a sequential task never runs', async () => {
      const { body } = await cluster.api.post('/v1/tasks', { ...ask([mark('dc-first', 6_000), mark('dc-second', 10)]), execution: 'sequential' });
      await waitFor(async () => (await redis.llen('test:marks:dc-first')) === 1);

      let cancelledAt = 0;
      const dropped = await dropPubSubFor(redis, 300, async () => {
        cancelledAt = Date.now();
        const { body: cancelled } = await cluster.api.post(`/v1/tasks/${body.id}/cancel`, {});
        expect(cancelled.status).toBe('cancelled');
      });
      expect(dropped).toBeGreaterThan(0);

      // The running call learns of it by polling the task's ended mark, and lets go of its line.
      await waitFor(async () => (await sequenceLines(redis)) === 0, { timeoutMs: 3_000, message: 'the sequential line was not left' });
      const abortedWithinMs = Date.now() - cancelledAt;
      expect(abortedWithinMs).toBeLessThan(2_500);

      // Long past when the first call would have ended on its own.
      await new Promise((resolve) => setTimeout(resolve, 6_500 - abortedWithinMs));
      expect(await redis.llen('test:done:dc-first')).toBe(0);
      expect(await redis.llen('test:marks:dc-second')).toBe(0);
      expect((await cluster.api.get(`/v1/tasks/${body.id}`)).body.status).toBe('cancelled');
      process.stdout.write(`durable cancel: running call let go ${abortedWithinMs} ms after a cancel whose message was lost\n`);
    });
  });
});
