/**
 * `npm start`: the whole of Volley on this machine, one sample task through it, then a
 * transcript and a timeline of what ran when. Starts what is missing: a Redis when REDIS_URL
 * is unset, the scripted model when OPENAI_BASE_URL is unset. `npm start -- --keep` leaves
 * everything running afterwards (Ctrl-C stops it).
 */
import { fileURLToPath } from 'node:url';
import { demoResponder, startScriptedModel } from '@volley/scripted-model';
import { freePort, spawnNode, startRedis, waitFor, type NodeProcess } from '@volley/shared/testing';
import { renderTimeline, renderTranscript, type DemoTask } from './timeline.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const cleanups: Array<() => Promise<unknown>> = [];
const say = (text: string) => process.stdout.write(`${text}\n`);
/** Well under the test's own timeout, so a stuck run reports itself instead of being killed mute. */
const FINISH_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 5_000;
const LOG_TAIL = { lines: 40, stderrChars: 2_000 };

async function main(): Promise<void> {
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    redisUrl = redis.url;
    say(`• Redis (${redis.backend}) on ${redis.url}`);
  }
  let modelUrl = process.env.OPENAI_BASE_URL;
  if (!modelUrl) {
    const model = await startScriptedModel({ respond: demoResponder, latencyMs: 200 });
    cleanups.push(() => model.close());
    modelUrl = model.url;
    say(`• scripted model (200 ms per answer) on ${model.url}`);
  }
  const port = process.env.PORT ?? String(await freePort());
  const base = { REDIS_URL: redisUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  const logReady = (msg: string) => (line: { msg?: string }) => line.msg === msg;
  const workers = await Promise.all(
    [1, 2].map((n) =>
      spawnNode({
        name: `worker-${n}`,
        script: `${root}apps/tool-worker/src/main.ts`,
        env: {
          ...base,
          LOG_LEVEL: 'info',
          VOLLEY_WORKER_ID: `worker-${n}`,
          VOLLEY_METRICS_PORT: '0',
          VOLLEY_METRICS_HOST: '127.0.0.1',
          VOLLEY_WORKER_CONCURRENCY: process.env.VOLLEY_WORKER_CONCURRENCY ?? '2',
        },
        ready: logReady('worker ready'),
      }),
    ),
  );
  const orchestrator: NodeProcess = await spawnNode({
    name: 'orchestrator',
    script: `${root}apps/orchestrator/src/main.ts`,
    env: { ...base, LOG_LEVEL: 'info', PORT: port, HOST: '127.0.0.1', OPENAI_BASE_URL: modelUrl, VOLLEY_MODEL: process.env.VOLLEY_MODEL ?? 'scripted' },
    ready: logReady('orchestrator ready'),
  });
  cleanups.push(() => Promise.all([orchestrator, ...workers].map((child) => child.stop())));
  const api = `http://127.0.0.1:${port}`;
  say(`• orchestrator on ${api}, tool workers ${workers.map((w) => `${w.name} (pid ${w.pid})`).join(', ')}`);

  const submitted = await fetch(`${api}/v1/tasks`, {
    method: 'POST',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      messages: [{ role: 'user', content: "What's the weather in Paris, the time in Tokyo, and can you wait 300 ms?" }],
    }),
  });
  const { id } = (await submitted.json()) as { id: string };
  say(`• submitted task ${id}\n`);
  let last: DemoTask | undefined;
  const task = await waitFor(
    async () => {
      last = (await (await fetch(`${api}/v1/tasks/${id}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).json()) as DemoTask;
      return ['completed', 'failed', 'cancelled'].includes(last.status) ? last : undefined;
    },
    { timeoutMs: FINISH_TIMEOUT_MS, message: `task ${id} did not finish within ${FINISH_TIMEOUT_MS / 1000} s` },
  ).catch((error: unknown) => {
    // A stuck demo must say where it stuck: the task as last seen and what each process logged.
    say(`Task as last seen: ${JSON.stringify(last)}`);
    for (const child of [orchestrator, ...workers]) say(`--- ${child.name} log (tail) ---\n${child.output(LOG_TAIL)}`);
    throw error;
  });
  say(renderTranscript(task));
  say(renderTimeline(task));
  if (task.status !== 'completed') process.exitCode = 1;
  if (keep) {
    say(`\nStill running (--keep): ${api}  —  Ctrl-C stops everything.`);
    await stopped;
  }
}

async function cleanup(): Promise<void> {
  for (const step of cleanups.reverse()) await step().catch(() => undefined);
}

// Ctrl-C, or a test's deadline: whatever was started is stopped before the script ends.
const stopped = new Promise<NodeJS.Signals>((resolve) => {
  process.once('SIGINT', () => resolve('SIGINT'));
  process.once('SIGTERM', () => resolve('SIGTERM'));
});

const run = main();
try {
  const signal = await Promise.race([run.then(() => undefined), stopped]);
  if (signal && !keep) {
    say(`\nnpm start stopped by ${signal} before it was done.`);
    process.exitCode = 1;
  }
} catch (error) {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  run.catch(() => undefined);
  await cleanup();
  // Nothing left may hold a finished run open: an interrupted run's polling, or a Docker
  // probe's socket to an unreachable DOCKER_HOST, which only gives up after the OS's connect timeout.
  process.exit();
}
