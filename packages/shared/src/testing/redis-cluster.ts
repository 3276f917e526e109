import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from './redis-server.ts';
import { waitFor } from './wait-for.ts';

const run = promisify(execFile);

export interface TestRedisCluster {
  /** Seed nodes as `host:port`, for REDIS_CLUSTER_NODES. */
  nodes: string[];
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster on loopback: `masters` redis-server processes in cluster mode, joined
 * with `redis-cli --cluster create` (no replicas), ready once every node reports the cluster ok.
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const servers: TestRedis[] = await Promise.all(
    Array.from({ length: masters }, () =>
      startRedis({
        backend: 'redis-server',
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'],
      }),
    ),
  );
  const nodes = servers.map((server) => `${server.host}:${server.port}`);
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await Promise.all(
      servers.map(async (server) => {
        const client = new Redis(server.port, server.host, { lazyConnect: false });
        try {
          await waitFor(async () => String(await client.cluster('INFO')).includes('cluster_state:ok'), {
            timeoutMs: 20_000,
            message: `cluster node ${server.host}:${server.port} never reported cluster_state:ok`,
          });
        } finally {
          client.disconnect();
        }
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, stop };
}
