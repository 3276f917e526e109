import { randomUUID } from 'node:crypto';
import { FAN_IN_ENTRY, fanInInboxKey, toolCallResultSchema, type KeySpaces, type Logger } from '@volley/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { FanInWaiters } from './fan-in-waiters.ts';

const resultsSchema = z.array(toolCallResultSchema);

/**
 * Where the results of this process's bare fan-outs arrive: each process has an inbox of its own
 * in every key space (a Redis stream named by a random id per process), the calls name it
 * (`reply_to`), and the worker that finishes a call appends its result there before the call's job
 * completes (see `FanInReplies`). Each process reads only its own inboxes, one blocking read per
 * shard, and a stream, unlike pub/sub, keeps what arrives while the reader's connection is down.
 * Reading starts at the stream's beginning: the inbox is new with the process, so nothing in it is
 * older than the reader.
 */
export class FanInInbox {
  /** This process's inbox, as calls name it. */
  readonly address = randomUUID();
  private readonly spaces: KeySpaces;
  private readonly waiters: FanInWaiters;
  private readonly logger: Logger;
  private readonly readers: Array<{ connection: Redis; reading: Promise<void> }> = [];
  private closed = false;

  constructor(deps: { spaces: KeySpaces; waiters: FanInWaiters; logger: Logger }) {
    this.spaces = deps.spaces;
    this.waiters = deps.waiters;
    this.logger = deps.logger;
  }

  /** Starts reading this process's inbox in every key space, each on a connection of its own (it blocks). */
  listen(connect: () => Redis): void {
    for (const prefix of this.spaces.shards) {
      const connection = connect();
      this.readers.push({ connection, reading: this.read(connection, fanInInboxKey(prefix, this.address)) });
    }
  }

  private async read(blocking: Redis, key: string): Promise<void> {
    let last = '0-0';
    while (!this.closed) {
      try {
        const reply = (await blocking.xread('BLOCK', 5_000, 'STREAMS', key, last)) as Array<[string, Array<[string, string[]]>]> | null;
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
    const fanOut = fields[fields.indexOf(FAN_IN_ENTRY.fanOut) + 1];
    const results = resultsSchema.safeParse(JSON.parse(fields[fields.indexOf(FAN_IN_ENTRY.results) + 1] ?? 'null'));
    if (fanOut === undefined || !results.success) {
      this.logger.warn({ fanOut }, 'malformed fan-in inbox entry ignored');
      return;
    }
    this.waiters.settle(fanOut, results.data);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const reader of this.readers) reader.connection.disconnect();
    await Promise.all(this.readers.map((reader) => reader.reading));
  }
}
