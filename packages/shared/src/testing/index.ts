export { freePort } from './free-port.ts';
export { startRedis } from './redis-server.ts';
export type { RedisBackend, StartRedisOptions, TestRedis } from './redis-server.ts';
export { makeTestCertificate } from './test-certificate.ts';
export type { TestCertificate } from './test-certificate.ts';
export { spawnNode } from './spawn-node.ts';
export type { ExitResult, LinePredicate, LogLine, NodeProcess, SpawnNodeOptions } from './spawn-node.ts';
export { waitFor } from './wait-for.ts';
export type { WaitForOptions, WaitForProbe } from './wait-for.ts';
