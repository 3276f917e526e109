import { randomUUID } from 'node:crypto';
import { toolCallResultSchema, type Logger, type ToolCallResult } from '@volley/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { FanInWaiters } from './fan-in-waiters.ts';

const resultsSchema = z.array(toolCallResultSchema);

/** An inbox outlives any request waiting on it by far; it goes with its process (no reader refreshes it). */
const INBOX_TTL_MS = 3_600_000;
/** Entries kept per inbox: far beyond what one process reads behind on. */
const INBOX_MAX_ENTRIES = 10_000;

/** Appends one delivery and keeps the inbox's expiry: one command. */
const DELIVER_SCRIPT = `
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'fan_in', ARGV[2], 'results', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

type InboxRedis = Redis & { volleyDeliverFanIn(key: string, maxEntries: number, fanIn: string, results: string, ttlMs: number): Promise<number> };

/**
 * How a bare fan-out's results reach the orchestrator whose request waits for them, when another
 * instance gathered them: each process has an inbox of its own (a Redis stream in the home key
 * space, named by a random id per process), and a fan-in job names the inbox of the request that
 * made it (`reply_to`). The instance that gathers hands the results over in memory when the
 * request is its own (`FanInWaiters`), else appends them to that inbox, before its job completes
 * (a failed append fails the job, which BullMQ retries). Each process reads only its own inbox,
 * with one blocking read: no instance reads every job event of every turn queue (a QueueEvents
 * consumer per shard, as before), and a stream, unlike pub/sub, keeps what arrives while the
 * reader's connection is down. Reading starts at the stream's beginning: the inbox is new with
 * the process, so nothing in it is older than the reader.
 */
export class FanInInbox {
  /** This process's inbox, as fan-in jobs name it. */
  readonly address = randomUUID();
  private readonly redis: InboxRedis;
  private readonly prefix: string;
  private readonly waiters: FanInWaiters;
  private readonly logger: Logger;
  private reading: Promise<void> | undefined;
  private closed = false;
  private blocking: Redis | undefined;

  constructor(deps: { redis: Redis; prefix: string; waiters: FanInWaiters; logger: Logger }) {
    const redis = deps.redis as InboxRedis;
    if (typeof redis.volleyDeliverFanIn !== 'function') redis.defineCommand('volleyDeliverFanIn', { numberOfKeys: 1, lua: DELIVER_SCRIPT });
    this.redis = redis;
    this.prefix = deps.prefix;
    this.waiters = deps.waiters;
    this.logger = deps.logger;
  }

  private key(address: string): string {
    return `${this.prefix}:fan-in-inbox:${address}`;
  }

  /** Hands gathered results to the request waiting for them: here, or in its process's inbox. */
  async deliver(replyTo: string | undefined, fanIn: string, results: ToolCallResult[]): Promise<void> {
    if (this.waiters.settle(fanIn, results) || replyTo === undefined || replyTo === this.address) return;
    await this.redis.volleyDeliverFanIn(this.key(replyTo), INBOX_MAX_ENTRIES, fanIn, JSON.stringify(results), INBOX_TTL_MS);
  }

  /** Starts reading this process's inbox on `blocking`, a connection of its own (it blocks). */
  listen(blocking: Redis): void {
    this.blocking = blocking;
    this.reading = this.read(blocking);
  }

  private async read(blocking: Redis): Promise<void> {
    let last = '0-0';
    while (!this.closed) {
      try {
        const reply = (await blocking.xread('BLOCK', 5_000, 'STREAMS', this.key(this.address), last)) as Array<[string, Array<[string, string[]]>]> | null;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            this.take(fields);
          }
        }
      } catch (error) {
        if (this.closed) return;
        // The connection reconnects by itself; the read resumes after the last entry taken.
        this.logger.warn({ err: error }, 'fan-in inbox read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  private take(fields: string[]): void {
    const fanIn = fields[fields.indexOf('fan_in') + 1];
    const results = resultsSchema.safeParse(JSON.parse(fields[fields.indexOf('results') + 1] ?? 'null'));
    if (fanIn === undefined || !results.success) {
      this.logger.warn({ fanIn }, 'malformed fan-in inbox entry ignored');
      return;
    }
    this.waiters.settle(fanIn, results.data);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.blocking?.disconnect();
    await this.reading;
  }
}
