/**
 * The tool worker of the bare-BullMQ baseline, run as its own process like Volley's worker:
 * a plain BullMQ Worker that runs the same tool functions, with no Volley code in between
 * (no schema validation, no deadlines, no registry). Configured by env; prints one JSON line
 * when ready, and closes cleanly on SIGTERM.
 */
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { BARE_CHILD_QUEUE, BARE_PREFIX, type BareCallData } from './bare-queues.ts';
import { noop, SLEEP_TOOL, sleepMs } from './tool-functions.ts';

const url = required('REDIS_URL');
const concurrency = Number(required('BARE_CONCURRENCY'));

const worker = new Worker(
  BARE_CHILD_QUEUE,
  async (job: Job<BareCallData>) => {
    const args = JSON.parse(job.data.arguments) as { ms: number };
    const output = job.data.name === SLEEP_TOOL ? await sleepMs(args) : noop();
    return { tool_call_id: job.data.id, content: typeof output === 'string' ? output : JSON.stringify(output) };
  },
  // Same shape as Volley's worker: one connection given, BullMQ adds its blocking one.
  { connection: new Redis(url, { maxRetriesPerRequest: null }), prefix: BARE_PREFIX, concurrency },
);
worker.on('error', (error) => process.stderr.write(`bare worker error: ${error.message}\n`));
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ msg: 'bare worker ready', pid: process.pid })}\n`);

let closing = false;
const shutdown = (): void => {
  if (closing) return;
  closing = true;
  void worker.close().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`bare-worker: ${name} is required\n`);
    process.exit(1);
  }
  return value;
}
