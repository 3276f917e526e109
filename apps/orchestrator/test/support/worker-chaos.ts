import type { Cluster } from './cluster.ts';

/**
 * For `forMs`, every 300–800 ms SIGKILLs a random live worker of the cluster (one is always
 * left) and starts a replacement named `<name>-<n>`; resolves with the number killed once every
 * replacement is up. `random` (e.g. `seeded`) makes the run repeatable.
 */
export async function killWorkersAtRandom(cluster: Cluster, options: { forMs: number; random: () => number; name: string }): Promise<number> {
  const { random } = options;
  let kills = 0;
  const replacements: Array<Promise<unknown>> = [];
  const ends = Date.now() + options.forMs;
  while (Date.now() < ends) {
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(random() * 500)));
    const alive = cluster.workers.filter((w) => w.alive());
    if (alive.length <= 1) continue;
    await alive[Math.floor(random() * alive.length)]!.kill();
    kills += 1;
    replacements.push(cluster.addWorker(`${options.name}-${kills}`));
  }
  await Promise.all(replacements);
  return kills;
}
