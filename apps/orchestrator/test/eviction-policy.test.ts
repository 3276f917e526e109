import { createRedis, readEvictionPolicies } from '@volley/shared';
import { spawnNode, startRedis, startRedisCluster, type NodeProcess, type TestRedis, type TestRedisCluster } from '@volley/shared/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ORCHESTRATOR_MAIN, TEST_TOOLS, WORKER_MAIN } from './support/cluster.ts';

// BullMQ keeps jobs, locks and flows in plain keys: a Redis that evicts under memory pressure
// silently loses them. Both apps read the policy at start (see checkEvictionPolicyOrExit).

const APPS = [
  ['the orchestrator', ORCHESTRATOR_MAIN, 'orchestrator ready'],
  ['a tool worker', WORKER_MAIN, 'worker ready'],
] as const;

const WARNING = /^Redis maxmemory-policy is allkeys-lru on 127\.0\.0\.1:\d+, not noeviction: .*set maxmemory-policy noeviction/;
const isPolicyLine = (line: { msg?: string }) => typeof line.msg === 'string' && /maxmemory-policy/.test(line.msg);

const children: NodeProcess[] = [];
afterEach(async () => {
  await Promise.allSettled(children.splice(0).map((child) => child.stop()));
});

function start(script: string, env: Record<string, string>, ready?: string): Promise<NodeProcess> {
  const child = spawnNode({
    name: script === WORKER_MAIN ? 'tool-worker' : 'orchestrator',
    script,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      VOLLEY_TOOL_MODULES: TEST_TOOLS,
      VOLLEY_METRICS_PORT: '0',
      VOLLEY_METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
    },
    ...(ready ? { ready: (line) => line.msg === ready } : {}),
  });
  return child.then((started) => {
    children.push(started);
    return started;
  });
}

/** Resolves with the exit, or 'hung' if the process is still running after 15 s. */
async function exitOf(child: NodeProcess) {
  return Promise.race([child.exited, new Promise<'hung'>((resolve) => setTimeout(resolve, 15_000, 'hung'))]);
}

describe('the maxmemory-policy check at start', () => {
  describe('when Redis evicts (allkeys-lru)', () => {
    let redis: TestRedis;

    beforeAll(async () => {
      redis = await startRedis({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    });

    afterAll(async () => {
      await redis?.stop();
    });

    it.each(APPS)('%s warns in one line naming the policy and what to set, and starts', async (_who, script, ready) => {
      const child = await start(script, { REDIS_URL: redis.url }, ready);
      const warnings = child.lines.filter(isPolicyLine);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, required_policy: 'noeviction', redis_nodes: [{ policy: 'allkeys-lru' }] });
      expect(warnings[0]!.msg).toMatch(WARNING);
    });

    it.each(APPS)('%s exits 1 with the reason under VOLLEY_REQUIRE_NOEVICTION=true', async (_who, script) => {
      const child = await start(script, { REDIS_URL: redis.url, VOLLEY_REQUIRE_NOEVICTION: 'true' });
      expect(await exitOf(child)).toEqual({ code: 1, signal: null });
      expect(child.stderr()).toMatch(
        /refusing to start: Redis maxmemory-policy is allkeys-lru on 127\.0\.0\.1:\d+, and VOLLEY_REQUIRE_NOEVICTION=true requires noeviction; set maxmemory-policy noeviction/,
      );
      expect(child.lines.find(isPolicyLine)?.level).toBe(60);
      expect(child.lines.some((line) => line.msg === 'orchestrator ready' || line.msg === 'worker ready')).toBe(false);
    });
  });

  describe('when Redis is noeviction (its default)', () => {
    let redis: TestRedis;

    beforeAll(async () => {
      redis = await startRedis();
    });

    afterAll(async () => {
      await redis?.stop();
    });

    it.each(APPS)('%s starts without a word about it, strict or not', async (_who, script, ready) => {
      for (const strict of ['false', 'true']) {
        const child = await start(script, { REDIS_URL: redis.url, VOLLEY_REQUIRE_NOEVICTION: strict }, ready);
        expect(child.lines.filter(isPolicyLine)).toEqual([]);
        expect(child.lines.filter((line) => line.level === 40 && /evict/i.test(String(line.msg)))).toEqual([]);
      }
    });
  });

  describe('when CONFIG is disabled (as managed Redis often does)', () => {
    let redis: TestRedis;

    beforeAll(async () => {
      redis = await startRedis({ args: ['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', ''] });
    });

    afterAll(async () => {
      await redis?.stop();
    });

    it('reads the policy from INFO instead, and still warns', async () => {
      const client = createRedis(redis.url);
      try {
        expect(await readEvictionPolicies(client)).toEqual([{ node: `127.0.0.1:${redis.port}`, policy: 'allkeys-lru' }]);
      } finally {
        client.disconnect();
      }
      const child = await start(WORKER_MAIN, { REDIS_URL: redis.url }, 'worker ready');
      expect(child.lines.find(isPolicyLine)?.msg).toMatch(WARNING);
    });
  });

  describe('when the connection may run neither CONFIG nor INFO (an ACL user without them)', () => {
    let redis: TestRedis;
    let url: string;

    beforeAll(async () => {
      redis = await startRedis({ args: ['--user', 'volley', 'on', '>volley-secret', '~*', '&*', '+@all', '-config', '-info'] });
      url = `redis://volley:volley-secret@127.0.0.1:${redis.port}`;
    });

    afterAll(async () => {
      await redis?.stop();
    });

    it('reads no policy, saying why', async () => {
      const client = createRedis(url, { enableReadyCheck: false }); // its ready check runs INFO too
      try {
        const [reading, ...others] = await readEvictionPolicies(client);
        expect(others).toEqual([]);
        expect(reading).toMatchObject({ node: `127.0.0.1:${redis.port}`, policy: undefined });
        expect(reading && 'problem' in reading && reading.problem).toMatch(/^CONFIG GET refused \(NOPERM .*\); INFO refused \(NOPERM .*\)$/);
      } finally {
        client.disconnect();
      }
    });

    // BullMQ itself cannot start without INFO (it reads the server's version with it), so the
    // process goes on to fail; the warning comes first, and names what could not be read.
    it.each(APPS)('%s warns that it could not be checked', async (_who, script) => {
      const child = await start(script, { REDIS_URL: url });
      const line = await child.waitForLine(isPolicyLine);
      expect(line.level).toBe(40);
      expect(line.msg).toMatch(/^Redis maxmemory-policy could not be checked \(127\.0\.0\.1:\d+: CONFIG GET refused \(NOPERM .*\): BullMQ needs noeviction/);
    });

    it.each(APPS)('%s refuses under VOLLEY_REQUIRE_NOEVICTION=true: unconfirmed is not confirmed', async (_who, script) => {
      const child = await start(script, { REDIS_URL: url, VOLLEY_REQUIRE_NOEVICTION: 'true' });
      expect(await exitOf(child)).toEqual({ code: 1, signal: null });
      expect(child.stderr()).toMatch(/refusing to start: Redis maxmemory-policy could not be checked \(127\.0\.0\.1:\d+: CONFIG GET refused/);
      expect(child.stderr()).not.toContain('volley-secret');
    });
  });

  describe('on a Redis Cluster', () => {
    let cluster: TestRedisCluster;
    let evicting: string;

    beforeAll(async () => {
      cluster = await startRedisCluster(3);
      // One master of three evicts: a check of the seed node alone would miss it.
      evicting = cluster.nodes[2]!;
      const [host, port] = evicting.split(':') as [string, string];
      const node = new Redis(Number(port), host);
      try {
        await node.config('SET', 'maxmemory-policy', 'volatile-lru');
      } finally {
        node.disconnect();
      }
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('reads every master, and the worker warns naming the one that evicts', async () => {
      const client = createRedis({ url: 'redis://127.0.0.1:6379', clusterNodes: [cluster.nodes[0]!] });
      try {
        await client.ping();
        const readings = await readEvictionPolicies(client);
        expect(readings.map((reading) => reading.node).sort()).toEqual([...cluster.nodes].sort());
        expect(readings.filter((reading) => reading.policy !== 'noeviction')).toEqual([{ node: evicting, policy: 'volatile-lru' }]);
      } finally {
        client.disconnect();
      }
      const child = await start(WORKER_MAIN, { REDIS_CLUSTER_NODES: cluster.nodes[0]! }, 'worker ready');
      const warnings = child.lines.filter(isPolicyLine);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(new RegExp(`^Redis maxmemory-policy is volatile-lru on ${evicting.replaceAll('.', '\\.')}, not noeviction`));
    });
  });
});
