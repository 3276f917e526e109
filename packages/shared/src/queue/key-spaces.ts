import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';

const SLOTS = 16_384;
const HASH_TAG = /\{([^{}]+)\}/;

/**
 * Where Volley's keys live. A task and everything that belongs to it — its record, events, marks,
 * and the BullMQ jobs of its steps and calls — live in one shard, chosen from the task's id (a
 * bare fan-out's id the same way), so every flow and every task script stays in one hash slot.
 * What is shared by all tasks lives in the home space: the worker registry, tool catalog, task
 * index, idempotency records, rate limits, and the resource locks with the results of locked
 * calls (a lock decision must see every claim on a resource, whichever shard its call came from).
 *
 * With one shard (the default) the shard is the home space and every key is where it always was.
 */
export class KeySpaces {
  /** The configured prefix: the shared keys, and shard 0 when there is one shard. */
  readonly home: string;
  readonly shards: readonly string[];

  constructor(prefix: string, shardCount = 1) {
    this.home = prefix;
    this.shards = shardCount === 1 ? [prefix] : Array.from({ length: shardCount }, (_, index) => shardPrefix(prefix, index, shardCount));
  }

  /** The prefix of the shard that holds a task (or bare fan-out) with this id. */
  of(id: string): string {
    return this.shards.length === 1 ? this.home : this.shards[fnv1a(id) % this.shards.length]!;
  }

  /**
   * A new random id whose shard is `shard`: for what must live in one slot with a record found by
   * another name (an idempotency record and the task it makes). N tries on average.
   */
  idIn(shard: string): string {
    for (;;) {
      const id = randomUUID();
      if (this.of(id) === shard) return id;
    }
  }
}

/**
 * Shard `index` of `count`: the prefix with its hash tag (or, without one, the whole prefix)
 * suffixed so that the tag's slot falls in the middle of the index-th of `count` equal slot
 * ranges. A cluster whose masters own equal ranges (what `redis-cli --cluster create` makes)
 * then serves one shard per master when `count` is the number of masters; the choice is
 * deterministic, so every process agrees on it.
 */
function shardPrefix(prefix: string, index: number, count: number): string {
  const tag = HASH_TAG.exec(prefix);
  const width = SLOTS / count;
  const from = index * width + width / 4;
  const to = index * width + (3 * width) / 4;
  for (let salt = 0; ; salt++) {
    const name = `${tag ? tag[1] : prefix}-s${index}${salt === 0 ? '' : `.${salt}`}`;
    const candidate = tag ? prefix.replace(HASH_TAG, `{${name}}`) : name;
    const slot = calculateSlot(candidate);
    if (slot >= from && slot < to) return candidate;
  }
}

/** 32-bit FNV-1a: cheap, and spreads ids (random or sequential) evenly over the shards. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
