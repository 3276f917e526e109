import { randomUUID } from 'node:crypto';
import { waitFor } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_TOOLS, startCluster, TEST_TOOLS, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';
import { workerTotal } from './support/worker-metrics.ts';

describe('POST /v1/tool-calls (JSON) when its client goes away before the answer', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, toolModules: [TEST_TOOLS, STATEFUL_TOOLS] });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Sends the fan-out, and drops the connection once the call has started on its worker. */
  const leaveOnceStarted = async (label: string, ms: number, headers: Record<string, string> = {}) => {
    const controller = new AbortController();
    const answer = fetch(`${cluster.api.baseUrl}/v1/tool-calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ message: assistant(call(label, 'mark', { label, ms })) }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await waitFor(async () => (await cluster.client.llen(`test:marks:${label}`)) > 0, { timeoutMs: 5_000, message: 'the call did not start' });
    controller.abort();
    expect(await answer).toBeInstanceOf(Error);
  };

  it('cancels the calls: the running one is aborted on its worker and never finishes', async () => {
    const label = `json-gone-${randomUUID()}`;
    const cancelledBefore = await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' });
    await leaveOnceStarted(label, 10_000);

    await waitFor(async () => (await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' })) > cancelledBefore, {
      timeoutMs: 3_000,
      message: 'the call was not cancelled on its worker',
    });
    expect(await cluster.client.llen(`test:done:${label}`)).toBe(0);
  });

  it('lets the calls finish with an Idempotency-Key, and a retry gets their answer without running them again', async () => {
    const label = `json-kept-${randomUUID()}`;
    const headers = { 'idempotency-key': randomUUID() };
    await leaveOnceStarted(label, 600, headers);

    const retry = await cluster.api.exchange('POST', '/v1/tool-calls', { message: assistant(call(label, 'mark', { label, ms: 600 })) }, undefined, headers);
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
    expect(retry.body.calls).toEqual([expect.objectContaining({ id: label, status: 'succeeded' })]);
    expect(await cluster.client.llen(`test:marks:${label}`)).toBe(1);
    expect(await cluster.client.llen(`test:done:${label}`)).toBe(1);
  });

  it('does not cancel a fan-out whose answer was sent: a later close of the connection is no disconnect', async () => {
    const label = `json-done-${randomUUID()}`;
    const cancelledBefore = await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' });
    const answer = await cluster.api.post('/v1/tool-calls', { message: assistant(call(label, 'mark', { label, ms: 10 })) });
    expect(answer.body.calls).toEqual([expect.objectContaining({ id: label, status: 'succeeded' })]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await workerTotal(cluster, 'volley_tool_calls_total', { tool: 'mark', error_code: 'cancelled' })).toBe(cancelledBefore);
  });
});
