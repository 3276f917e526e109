import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCertificate, spawnNode, type NodeProcess } from '@volley/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORCHESTRATOR_MAIN, startCluster, WORKER_MAIN, type Cluster } from './support/cluster.ts';
import { assistant, call } from './support/scripted-calls.ts';

const PASSWORD = `pw-${randomBytes(16).toString('hex')}`;
const message = assistant(call('a', 'nap', '{"ms": 50}'), call('b', 'echo', '{"text": "over a guarded Redis"}'));

/** One fan-out through the whole cluster: both calls ran on a worker and came back in order. */
async function expectFanOut(cluster: Cluster) {
  const response = await cluster.api.post('/v1/tool-calls', { message });
  expect(response.status).toBe(200);
  expect(response.body.messages.map((m: any) => m.tool_call_id)).toEqual(['a', 'b']);
  expect(response.body.calls.map((c: any) => c.status)).toEqual(['succeeded', 'succeeded']);
  expect(JSON.parse(response.body.messages[0].content).worker).toBe('worker-1');
}

function everythingLogged(children: NodeProcess[]): string {
  return children.map((child) => child.output()).join('\n');
}

describe('Redis with a password', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, redis: { password: PASSWORD } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('when REDIS_URL carries the password', () => {
    it('runs a fan-out end to end and is ready', async () => {
      expect(cluster.redis.url).toContain(`:${PASSWORD}@`);
      await expectFanOut(cluster);
      expect((await cluster.api.get('/readyz')).body).toEqual({ status: 'ready' });
    });
  });

  describe('when REDIS_URL carries a wrong password, or none', () => {
    it.each([
      ['the orchestrator', 'a wrong password', ORCHESTRATOR_MAIN, 'wrong-password-123'],
      ['the orchestrator', 'no password', ORCHESTRATOR_MAIN, undefined],
      ['a tool worker', 'a wrong password', WORKER_MAIN, 'wrong-password-123'],
    ])('%s exits 1 at once, saying why, with %s', async (_who, _what, script, password) => {
      const url = `redis://${password === undefined ? '' : `:${password}@`}127.0.0.1:${cluster.redis.port}`;
      const started = Date.now();
      const child = await spawnNode({
        name: 'wrong-password',
        script,
        env: { REDIS_URL: url, OPENAI_BASE_URL: cluster.model.url, PORT: '0', HOST: '127.0.0.1' },
      });
      const exit = await Promise.race([child.exited, new Promise<'hung'>((resolve) => setTimeout(resolve, 10_000, 'hung'))]);
      if (exit === 'hung') await child.kill();
      expect(exit).toEqual({ code: 1, signal: null });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(child.stderr()).toMatch(/Redis refused the credentials in REDIS_URL \((WRONGPASS|NOAUTH)\)/);
      expect(child.lines.some((line) => line.level === 60)).toBe(true);
      expect(everythingLogged([child])).not.toContain(password ?? PASSWORD);
    });
  });

  it('never logs the password', () => {
    expect(everythingLogged([...cluster.orchestrators, ...cluster.workers])).not.toContain(PASSWORD);
  });
});

describe('Redis over TLS (rediss://) with a password', () => {
  const dir = mkdtempSync(join(tmpdir(), 'volley-tls-'));
  const caFile = join(dir, 'ca.pem');
  let cluster: Cluster;

  beforeAll(async () => {
    const certificate = makeTestCertificate();
    writeFileSync(caFile, certificate.ca);
    const trust = { NODE_EXTRA_CA_CERTS: caFile };
    cluster = await startCluster({
      workers: 1,
      redis: { password: PASSWORD, tls: certificate },
      redisUrl: (redis) => redis.tlsUrl!,
      orchestratorEnv: trust,
      workerEnv: trust,
    });
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a fan-out end to end over the TLS port', async () => {
    expect(cluster.redis.tlsUrl).toMatch(/^rediss:\/\//);
    await expectFanOut(cluster);
    expect((await cluster.api.get('/readyz')).body).toEqual({ status: 'ready' });
  });

  it("exits 1 saying why when the server's certificate is not trusted", async () => {
    const child = await spawnNode({
      name: 'untrusting',
      script: ORCHESTRATOR_MAIN,
      env: { REDIS_URL: cluster.redis.tlsUrl!, OPENAI_BASE_URL: cluster.model.url, PORT: '0', NODE_EXTRA_CA_CERTS: undefined },
    });
    const exit = await Promise.race([child.exited, new Promise<'hung'>((resolve) => setTimeout(resolve, 10_000, 'hung'))]);
    if (exit === 'hung') await child.kill();
    expect(exit).toEqual({ code: 1, signal: null });
    expect(child.stderr()).toMatch(/TLS certificate was rejected \(DEPTH_ZERO_SELF_SIGNED_CERT/);
    expect(everythingLogged([child])).not.toContain(PASSWORD);
  });
});
