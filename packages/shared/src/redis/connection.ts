import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export interface RedisTarget {
  /** A single Redis (`redis://` or `rediss://`, credentials in the URL). */
  url: string;
  /**
   * Seed nodes (`host:port`) of a Redis Cluster; when given, they win over `url`'s host, while
   * `url` still lends its credentials and TLS (`rediss://`) to every node.
   */
  clusterNodes?: readonly string[];
}

/** Where an app's config says Redis is. */
export function redisTargetOf(config: { REDIS_URL: string; REDIS_CLUSTER_NODES?: string[] | undefined }): RedisTarget {
  return { url: config.REDIS_URL, ...(config.REDIS_CLUSTER_NODES ? { clusterNodes: config.REDIS_CLUSTER_NODES } : {}) };
}

/**
 * A connection for BullMQ and Volley's own keys. `maxRetriesPerRequest: null` is what BullMQ
 * workers require: commands wait for a reconnect instead of failing.
 *
 * A Cluster is handed out typed as `Redis`: Volley uses only commands both share, and every key
 * it touches carries the prefix's hash tag, so each multi-key command and script stays in one
 * slot.
 */
export function createRedis(
  target: RedisTarget | string,
  options: RedisOptions = {},
  /** On a Redis Cluster only: options of the cluster client itself (`options` go to every node). */
  clusterOptions: Omit<ClusterOptions, 'redisOptions'> = {},
): Redis {
  const { url, clusterNodes } = typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
  if (!clusterNodes || clusterNodes.length === 0) return new Redis(url, { maxRetriesPerRequest: null, ...options });
  const parsed = new URL(url);
  const nodeOptions: RedisOptions = {
    maxRetriesPerRequest: null,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    ...options,
  };
  const nodes = clusterNodes.map((node) => {
    const [host, port] = node.split(':');
    return { host: host!, port: Number(port) };
  });
  return new Cluster(nodes, { redisOptions: nodeOptions, enableReadyCheck: true, ...clusterOptions }) as unknown as Redis;
}
