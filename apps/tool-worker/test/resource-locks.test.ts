import { createLogger, lockTicket, ticketJob, type ToolCallResult } from '@volley/shared';
import { startRedis, waitFor, type TestRedis } from '@volley/shared/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallResults } from '../src/call-results.ts';
import { JobWaker } from '../src/locks/job-waker.ts';
import { renewLease } from '../src/locks/lease-renewal.ts';
import { OverrunHolds } from '../src/locks/overrun-holds.ts';
import { normalizeClaims, type Claim } from '../src/locks/resource-claims.ts';
import { ResourceLocks, type Acquired } from '../src/locks/resource-locks.ts';

const QUEUE = 'tools';
const w = (key: string): Claim => ({ key, mode: 'w' });
const r = (key: string): Claim => ({ key, mode: 'r' });
/** The holder id of one run of the call behind `ticket`: run 1, or its redelivery/retry `run`. */
const h = (ticket: string, run = 1) => `${ticket}#${run}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The fencing tokens of an acquisition that must succeed (in claim order). */
async function fences(acquiring: Promise<Acquired>): Promise<number[]> {
  const acquired = await acquiring;
  expect(acquired).toMatchObject({ acquired: true });
  return (acquired as Extract<Acquired, { acquired: true }>).fences;
}

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await redis?.quit();
  await server?.stop();
});

let isolation = 0;

/**
 * One test's world: its own key prefix, and jobs that are plain BullMQ-shaped hashes (a job
 * hash without `finishedOn` is a live job to the lock scripts).
 */
function world(options: { leaseMs?: number } = {}) {
  const prefix = `t${++isolation}`;
  const locks = new ResourceLocks({ redis, prefix, leaseMs: options.leaseMs ?? 1000 });
  let messages = 0;

  const jobKey = (ticket: string) => ticketJob(ticket).jobKey;

  /**
   * An assistant message whose locking calls claim `calls[rank]`: creates their jobs (except
   * those listed in `missing`) and registers them in `order` (model order by default).
   */
  async function message(calls: Claim[][], options: { order?: number[]; missing?: number[] } = {}) {
    const group = `m${++messages}`;
    const tickets = calls.map((_, rank) => lockTicket(`${prefix}:${QUEUE}`, `${group}-c${rank}`));
    for (const [rank, ticket] of tickets.entries()) {
      if (!options.missing?.includes(rank)) await redis.hset(jobKey(ticket), 'name', 'x');
    }
    const plan = (rank: number) => ({ group, rank, siblings: tickets });
    const register = (rank: number) => locks.register(plan(rank), tickets[rank]!, calls[rank]!);
    const order = options.order ?? calls.map((_, rank) => rank).filter((rank) => !options.missing?.includes(rank));
    const registrations = [];
    for (const rank of order) registrations.push(await register(rank));
    return { tickets, register, registrations };
  }

  return {
    prefix,
    locks,
    message,
    /** The job of `ticket` ends: its hash disappears. */
    remove: (ticket: string) => redis.del(jobKey(ticket)),
    /** The job of `ticket` finishes: its hash stays, with `finishedOn`. */
    finish: (ticket: string) => redis.hset(jobKey(ticket), 'finishedOn', Date.now()),
  };
}

describe('ResourceLocks', () => {
  describe('when a message registers its calls', () => {
    it('enqueues nothing until every sibling has registered, then reports who completed the plan', async () => {
      const { locks, message } = world();
      const { tickets, register, registrations } = await message([[w('a')], [w('a')], [r('b')]], { order: [0, 1] });
      expect(registrations.map((registration) => registration.ready)).toEqual([false, false]);
      expect(registrations.map((registration) => registration.completedPlan)).toEqual([false, false]);
      await expect(locks.acquire(tickets[0]!, h(tickets[0]!), [w('a')])).rejects.toThrow(/VOLLEY_NOT_ENQUEUED a/);

      const last = await register(2);
      expect(last).toMatchObject({ ready: true, completedPlan: true });

      const again = await register(0);
      expect(again).toMatchObject({ ready: true, completedPlan: false });
      expect(again.registeredAt).toBe(registrations[0]!.registeredAt);
      expect(await locks.acquire(tickets[0]!, h(tickets[0]!), [w('a')])).toMatchObject({ acquired: true });
    });

    it('skips a sibling whose job is gone or finished', async () => {
      const { locks, message, finish } = world();
      const calls = [[w('a')], [w('a')], [w('a')], [w('a')]];
      const { tickets, register } = await message(calls, { order: [0], missing: [1] });
      await finish(tickets[2]!);
      expect(await register(3)).toMatchObject({ ready: true, completedPlan: true });

      expect(await locks.acquire(tickets[3]!, h(tickets[3]!), [w('a')])).toEqual({ acquired: false, blockedBy: tickets[0] });
      expect(await locks.acquire(tickets[0]!, h(tickets[0]!), [w('a')])).toMatchObject({ acquired: true });
    });

    it('puts the tickets in line in rank order, whatever the order of registration', async () => {
      const { locks, message } = world();
      const { tickets, registrations } = await message([[w('a')], [w('a')], [w('a')]], { order: [2, 0, 1] });
      expect(registrations.map((registration) => registration.completedPlan)).toEqual([false, false, true]);
      const [first, second, third] = tickets as [string, string, string];

      expect(await locks.acquire(third, h(third), [w('a')])).toEqual({ acquired: false, blockedBy: first });
      expect(await locks.acquire(second, h(second), [w('a')])).toEqual({ acquired: false, blockedBy: first });
      expect(await locks.acquire(first, h(first), [w('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(second, h(second), [w('a')])).toEqual({ acquired: false, blockedBy: first });

      expect(await locks.release(first, h(first), [w('a')], { keepPlace: false })).toEqual([second]);
      expect(await locks.acquire(third, h(third), [w('a')])).toEqual({ acquired: false, blockedBy: second });
      expect(await locks.acquire(second, h(second), [w('a')])).toMatchObject({ acquired: true });
      expect(await locks.release(second, h(second), [w('a')], { keepPlace: false })).toEqual([third]);
      expect(await locks.acquire(third, h(third), [w('a')])).toMatchObject({ acquired: true });
    });
  });

  describe('when calls read and write one resource', () => {
    it('lets readers hold it together', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[r('a')], [r('a')]]);
      expect(await locks.acquire(tickets[1]!, h(tickets[1]!), [r('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(tickets[0]!, h(tickets[0]!), [r('a')])).toMatchObject({ acquired: true });
    });

    it('makes a writer wait for every earlier reader', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[r('a')], [r('a')], [w('a')]]);
      const [reader1, reader2, writer] = tickets as [string, string, string];
      await locks.acquire(reader1, h(reader1), [r('a')]);
      await locks.acquire(reader2, h(reader2), [r('a')]);

      expect(await locks.acquire(writer, h(writer), [w('a')])).toEqual({ acquired: false, blockedBy: reader1 });
      await locks.release(reader1, h(reader1), [r('a')], { keepPlace: false });
      expect(await locks.acquire(writer, h(writer), [w('a')])).toEqual({ acquired: false, blockedBy: reader2 });
      await locks.release(reader2, h(reader2), [r('a')], { keepPlace: false });
      expect(await locks.acquire(writer, h(writer), [w('a')])).toMatchObject({ acquired: true });
    });

    it('makes a reader behind a waiting writer wait, so writers do not starve', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[r('a')], [w('a')], [r('a')]]);
      const [reader1, writer, reader2] = tickets as [string, string, string];
      expect(await locks.acquire(reader1, h(reader1), [r('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(writer, h(writer), [w('a')])).toEqual({ acquired: false, blockedBy: reader1 });
      expect(await locks.acquire(reader2, h(reader2), [r('a')])).toEqual({ acquired: false, blockedBy: writer });

      expect(await locks.release(reader1, h(reader1), [r('a')], { keepPlace: false })).toEqual([writer]);
      expect(await locks.acquire(writer, h(writer), [w('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(reader2, h(reader2), [r('a')])).toEqual({ acquired: false, blockedBy: writer });
      expect(await locks.release(writer, h(writer), [w('a')], { keepPlace: false })).toEqual([reader2]);
      expect(await locks.acquire(reader2, h(reader2), [r('a')])).toMatchObject({ acquired: true });
    });
  });

  describe('when a call claims several resources', () => {
    it('takes all of them or none', async () => {
      const { locks, message } = world();
      // Lines: a = [both, onlyA]; b = [onlyB, both].
      const { tickets } = await message([[w('b')], [w('a'), w('b')], [w('a')]]);
      const [onlyB, both, onlyA] = tickets as [string, string, string];
      expect(await locks.acquire(onlyB, h(onlyB), [w('b')])).toMatchObject({ acquired: true });

      expect(await locks.acquire(both, h(both), [w('a'), w('b')])).toEqual({ acquired: false, blockedBy: onlyB });
      // It holds nothing of a: no lease to renew, and no fencing token was spent on a.
      expect(await locks.renew(both, h(both), [w('a')])).toBe(false);
      // It keeps its place in a's line, though: the later call on a waits for it.
      expect(await locks.acquire(onlyA, h(onlyA), [w('a')])).toEqual({ acquired: false, blockedBy: both });

      expect(await locks.release(onlyB, h(onlyB), [w('b')], { keepPlace: false })).toEqual([both]);
      expect(await locks.acquire(both, h(both), [w('a'), w('b')])).toMatchObject({ acquired: true });
      expect(await locks.release(both, h(both), [w('a'), w('b')], { keepPlace: false })).toEqual([onlyA]);
      expect(await locks.acquire(onlyA, h(onlyA), [w('a')])).toMatchObject({ acquired: true });
    });

    it('never deadlocks two messages that name the same resources in opposite orders', async () => {
      const { locks, message } = world();
      const abClaims = normalizeClaims(['a', 'b']);
      const baClaims = normalizeClaims(['b', 'a']);
      expect(baClaims).toEqual(abClaims);
      const {
        tickets: [ab],
      } = await message([abClaims]);
      const {
        tickets: [ba],
      } = await message([baClaims]);

      // The later message, trying first, is blocked on both lines by the same earlier ticket.
      expect(await locks.acquire(ba!, h(ba!), baClaims)).toEqual({ acquired: false, blockedBy: ab });
      expect(await locks.wouldAcquire(ba!, h(ba!), [{ key: 'b', mode: 'w' }])).toBe(false);
      expect(await locks.acquire(ab!, h(ab!), abClaims)).toMatchObject({ acquired: true });
      expect(await locks.release(ab!, h(ab!), abClaims, { keepPlace: false })).toEqual([ba]);
      expect(await locks.acquire(ba!, h(ba!), baClaims)).toMatchObject({ acquired: true });
      expect(await locks.release(ba!, h(ba!), baClaims, { keepPlace: false })).toEqual([]);
    });

    it('wakes a call waiting on several released resources once', async () => {
      const { locks, message } = world();
      const claims = [w('a'), w('b')];
      const { tickets } = await message([claims, claims]);
      await locks.acquire(tickets[0]!, h(tickets[0]!), claims);
      expect(await locks.release(tickets[0]!, h(tickets[0]!), claims, { keepPlace: false })).toEqual([tickets[1]]);
    });
  });

  describe('fencing tokens', () => {
    it('grow per resource with every acquisition, drawn from one counter', async () => {
      const { locks, message, prefix } = world();
      const { tickets } = await message([[w('a')], [w('a')], [w('b')], [w('a'), w('b')]]);
      const [first, second, onB, onBoth] = tickets as [string, string, string, string];
      const [firstOnA] = await fences(locks.acquire(first, h(first), [w('a')]));
      const [onlyB] = await fences(locks.acquire(onB, h(onB), [w('b')]));
      await locks.release(first, h(first), [w('a')], { keepPlace: false });
      await locks.release(onB, h(onB), [w('b')], { keepPlace: false });
      const [secondOnA] = await fences(locks.acquire(second, h(second), [w('a')]));
      await locks.release(second, h(second), [w('a')], { keepPlace: false });
      const [bothOnA, bothOnB] = await fences(locks.acquire(onBoth, h(onBoth), [w('a'), w('b')]));

      expect(secondOnA).toBeGreaterThan(firstOnA!);
      expect(bothOnA).toBeGreaterThan(secondOnA!);
      expect(bothOnB).toBeGreaterThan(onlyB!);
      // One counter for every resource: no two acquisitions share a token, and no key per resource.
      expect(new Set([firstOnA, onlyB, secondOnA, bothOnA, bothOnB]).size).toBe(5);
      expect(Number(await redis.get(`${prefix}:lock:seq`))).toBe(Math.max(bothOnA!, bothOnB!));
      expect(await redis.keys(`${prefix}:lock:f:*`)).toEqual([]);
    });

    it('give a call that takes over its own lock (a redelivery after a crash) a higher token', async () => {
      const { locks, message } = world({ leaseMs: 200 });
      const { tickets } = await message([[w('a')], [w('a')]]);
      const [holder, next] = tickets as [string, string];
      const [before] = await fences(locks.acquire(holder, h(holder), [w('a')]));
      await sleep(250);
      const [after] = await fences(locks.acquire(holder, h(holder, 2), [w('a')]));
      expect(after).toBeGreaterThan(before!);
      expect(await locks.renew(holder, h(holder, 2), [w('a')])).toBe(true);
      expect(await locks.acquire(next, h(next), [w('a')])).toEqual({ acquired: false, blockedBy: holder });
    });

    it('let the same holder acquire again while it holds, with a higher token', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[w('a')]]);
      const [holder] = tickets as [string];
      const [before] = await fences(locks.acquire(holder, h(holder), [w('a')]));
      const [after] = await fences(locks.acquire(holder, h(holder), [w('a')]));
      expect(after).toBeGreaterThan(before!);
      expect(await locks.renew(holder, h(holder), [w('a')])).toBe(true);
    });
  });

  describe('bookkeeping', () => {
    it('leaves no line, mode or holder key once every call is done, and keeps only the sequence', async () => {
      const { locks, message, prefix, finish } = world();
      for (let m = 0; m < 30; m += 1) {
        const { tickets } = await message([[w('a'), r(`b:${m}`)], [w('a')]]);
        for (const ticket of tickets) {
          const claims = ticket === tickets[0] ? [w('a'), r(`b:${m}`)] : [w('a')];
          await fences(locks.acquire(ticket, h(ticket), claims));
          await locks.release(ticket, h(ticket), claims, { keepPlace: false });
          await finish(ticket);
        }
      }
      const left = (await redis.keys(`${prefix}:lock*`)).sort();
      expect(left.filter((key) => !key.startsWith(`${prefix}:lockplan:`))).toEqual([`${prefix}:lock:seq`]);
      expect(left.filter((key) => key.startsWith(`${prefix}:lockplan:`))).toHaveLength(30);
      for (const key of left.filter((key) => key.startsWith(`${prefix}:lockplan:`))) {
        expect(await redis.pttl(key)).toBeGreaterThan(0);
      }
    });

    it('gives every line, mode and holder key an expiry, refreshed while calls use them', async () => {
      const { locks, message, prefix } = world();
      const { tickets } = await message([[w('a')], [r('a')]]);
      const [holder, waiting] = tickets as [string, string];
      await fences(locks.acquire(holder, h(holder), [w('a')]));
      const keys = ['q', 'm', 'h'].map((part) => `${prefix}:lock:${part}:a`);
      for (const key of keys) await redis.pexpire(key, 60_000);
      // An abandoned line (its calls gone for good, nobody else calling) expires on its own…
      for (const key of keys) expect(await redis.pttl(key)).toBeLessThanOrEqual(60_000);
      // …but every renewal and every look by a waiting call pushes that back.
      expect(await locks.renew(holder, h(holder), [w('a')])).toBe(true);
      for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(23 * 3600 * 1000);
      for (const key of keys) await redis.pexpire(key, 60_000);
      expect(await locks.acquire(waiting, h(waiting), [r('a')])).toEqual({ acquired: false, blockedBy: holder });
      for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(23 * 3600 * 1000);
    });
  });

  describe('when a call is redelivered (a new holder of the same ticket)', () => {
    const LEASE_MS = 200;
    const lapse = () => sleep(LEASE_MS + 50);

    it('refuses the new holder while the old lease runs, saying how long it still runs', async () => {
      const { locks, message, prefix } = world({ leaseMs: LEASE_MS });
      const { tickets } = await message([[w('a'), w('b')]]);
      const [ticket] = tickets as [string];
      expect(await locks.acquire(ticket, h(ticket), [w('a'), w('b')])).toMatchObject({ acquired: true });
      const seq = await redis.get(`${prefix}:lock:seq`);

      const refused = await locks.acquire(ticket, h(ticket, 2), [w('a'), w('b')]);
      expect(refused).toMatchObject({ acquired: false, blockedBy: ticket });
      const { retryAfterMs } = refused as { retryAfterMs?: number };
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(LEASE_MS);
      expect(await locks.wouldAcquire(ticket, h(ticket, 2), [w('a'), w('b')])).toBe(false);
      // The old holder still holds, and the refusals spent no fencing token.
      expect(await redis.get(`${prefix}:lock:seq`)).toBe(seq);
      expect(await locks.renew(ticket, h(ticket), [w('a'), w('b')])).toBe(true);
      expect(await locks.renew(ticket, h(ticket, 2), [w('a'), w('b')])).toBe(false);
      await lapse();
      expect(await locks.acquire(ticket, h(ticket, 2), [w('a'), w('b')])).toMatchObject({ acquired: true });
    });

    it('waits for earlier tickets before its own old lease', async () => {
      const { locks, message } = world({ leaseMs: LEASE_MS });
      const { tickets } = await message([[w('a')], [w('a')]]);
      const [first, second] = tickets as [string, string];
      expect(await locks.acquire(first, h(first), [w('a')])).toMatchObject({ acquired: true });
      // Not blocked by its own lease (it has none): blocked by the earlier ticket, no retryAfterMs.
      expect(await locks.acquire(second, h(second, 2), [w('a')])).toEqual({ acquired: false, blockedBy: first });
    });

    it('lets the new holder take over once the old lease lapsed, with a higher fencing token', async () => {
      const { locks, message } = world({ leaseMs: LEASE_MS });
      const { tickets } = await message([[w('a')], [w('a')]]);
      const [ticket, next] = tickets as [string, string];
      expect(await locks.acquire(ticket, h(ticket), [w('a')])).toMatchObject({ acquired: true });
      await lapse();
      expect(await locks.wouldAcquire(ticket, h(ticket, 2), [w('a')])).toBe(true);
      expect(await locks.acquire(ticket, h(ticket, 2), [w('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(next, h(next), [w('a')])).toEqual({ acquired: false, blockedBy: ticket });
    });

    it("fails the old holder's renewals after the takeover, without touching the new lease", async () => {
      const { locks, message } = world({ leaseMs: LEASE_MS });
      const { tickets } = await message([[w('a'), w('b')]]);
      const [ticket] = tickets as [string];
      await locks.acquire(ticket, h(ticket), [w('a'), w('b')]);
      await lapse();
      expect(await locks.acquire(ticket, h(ticket, 2), [w('a'), w('b')])).toMatchObject({ acquired: true });

      expect(await locks.renew(ticket, h(ticket), [w('a'), w('b')])).toBe(false);
      expect(await locks.renew(ticket, h(ticket), [w('b')])).toBe(false);
      expect(await locks.renew(ticket, h(ticket, 2), [w('a'), w('b')])).toBe(true);
      // The new holder's lease runs: a third run is refused as the second one was.
      expect(await locks.acquire(ticket, h(ticket, 3), [w('a'), w('b')])).toMatchObject({
        acquired: false,
        blockedBy: ticket,
        retryAfterMs: expect.any(Number),
      });
    });

    it("makes the old holder's release a no-op: the ticket keeps its place and the new holder its lock", async () => {
      const { locks, message, prefix } = world({ leaseMs: LEASE_MS });
      const { tickets } = await message([[w('a')], [w('a')]]);
      const [ticket, next] = tickets as [string, string];
      await locks.acquire(ticket, h(ticket), [w('a')]);
      await lapse();
      expect(await locks.acquire(ticket, h(ticket, 2), [w('a')])).toMatchObject({ acquired: true });

      expect(await locks.release(ticket, h(ticket), [w('a')], { keepPlace: false })).toEqual([]);
      expect(await locks.release(ticket, h(ticket), [w('a')], { keepPlace: true })).toEqual([]);
      expect(await redis.zrange(`${prefix}:lock:q:a`, '0', '-1')).toEqual([ticket, next]);
      expect(await locks.renew(ticket, h(ticket, 2), [w('a')])).toBe(true);
      expect(await locks.acquire(next, h(next), [w('a')])).toEqual({ acquired: false, blockedBy: ticket });
      expect(await locks.wouldAcquire(next, h(next), [w('a')])).toBe(false);

      // The new holder's own release still works, and wakes who is next.
      expect(await locks.release(ticket, h(ticket, 2), [w('a')], { keepPlace: false })).toEqual([next]);
      expect(await locks.acquire(next, h(next), [w('a')])).toMatchObject({ acquired: true });
    });

    it("lets holder '*' release whoever holds, freeing the line", async () => {
      const { locks, message } = world({ leaseMs: LEASE_MS });
      const { tickets } = await message([[w('a'), w('b')], [w('a')], [r('b')]]);
      const [ticket, onA, onB] = tickets as [string, string, string];
      await locks.acquire(ticket, h(ticket), [w('a'), w('b')]);
      expect(await locks.acquire(onA, h(onA), [w('a')])).toEqual({ acquired: false, blockedBy: ticket });

      // A redelivery answered from its recorded result leaves without knowing the holder.
      expect(await locks.release(ticket, '*', [w('a'), w('b')], { keepPlace: false })).toEqual([onA, onB]);
      expect(await locks.renew(ticket, h(ticket), [w('a'), w('b')])).toBe(false);
      expect(await locks.acquire(onA, h(onA), [w('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(onB, h(onB), [r('b')])).toMatchObject({ acquired: true });
      // Left the line: it can no longer acquire.
      await expect(locks.acquire(ticket, h(ticket, 2), [w('a')])).rejects.toThrow(/VOLLEY_NOT_ENQUEUED a/);
    });
  });

  describe('when a ticket ahead in line belongs to a job that is over', () => {
    it('drops a ticket whose job is gone once the lease it held lapses', async () => {
      const { locks, message, remove } = world({ leaseMs: 200 });
      const { tickets } = await message([[w('a')], [w('a')]]);
      const [crashed, next] = tickets as [string, string];
      await locks.acquire(crashed, h(crashed), [w('a')]);
      expect(await locks.acquire(next, h(next), [w('a')])).toEqual({ acquired: false, blockedBy: crashed });

      await remove(crashed);
      // Its holder may still be running (a body past its answer): the lease is what counts.
      expect(await locks.acquire(next, h(next), [w('a')])).toEqual({ acquired: false, blockedBy: crashed });
      await sleep(250);
      expect(await locks.acquire(next, h(next), [w('a')])).toMatchObject({ acquired: true });
      expect(await locks.renew(crashed, h(crashed), [w('a')])).toBe(false);
    });

    it('keeps a finished call in line while its holder renews its lease, until it releases', async () => {
      const { locks, message, finish } = world({ leaseMs: 200 });
      const { tickets } = await message([[w('a')], [r('a')], [w('a')]]);
      const [overrun, reader, writer] = tickets as [string, string, string];
      await fences(locks.acquire(overrun, h(overrun), [w('a')]));
      await finish(overrun);
      for (let i = 0; i < 4; i += 1) {
        await sleep(100);
        expect(await locks.renew(overrun, h(overrun), [w('a')])).toBe(true);
        expect(await locks.acquire(reader, h(reader), [r('a')])).toEqual({ acquired: false, blockedBy: overrun });
      }
      expect(await locks.release(overrun, h(overrun), [w('a')], { keepPlace: false })).toEqual([reader]);
      expect(await locks.acquire(reader, h(reader), [r('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(writer, h(writer), [w('a')])).toEqual({ acquired: false, blockedBy: reader });
    });

    it('lets a reader past a finished reader whose lease runs, but not a writer', async () => {
      const { locks, message, finish } = world();
      const { tickets } = await message([[r('a')], [r('a')], [w('a')]]);
      const [overrun, reader, writer] = tickets as [string, string, string];
      await fences(locks.acquire(overrun, h(overrun), [r('a')]));
      await finish(overrun);
      expect(await locks.acquire(reader, h(reader), [r('a')])).toMatchObject({ acquired: true });
      await locks.release(reader, h(reader), [r('a')], { keepPlace: false });
      expect(await locks.acquire(writer, h(writer), [w('a')])).toEqual({ acquired: false, blockedBy: overrun });
    });

    it('drops a ticket whose job has finished', async () => {
      const { locks, message, finish } = world();
      const { tickets } = await message([[w('a')], [r('a')], [r('a')]]);
      const [finished, reader1, reader2] = tickets as [string, string, string];
      await finish(finished);
      expect(await locks.acquire(reader2, h(reader2), [r('a')])).toMatchObject({ acquired: true });
      expect(await locks.acquire(reader1, h(reader1), [r('a')])).toMatchObject({ acquired: true });
    });

    it('does not wake it, and wakes who is next instead', async () => {
      const { locks, message, remove } = world();
      const { tickets } = await message([[w('a')], [w('a')], [w('a')]]);
      const [holder, gone, next] = tickets as [string, string, string];
      await locks.acquire(holder, h(holder), [w('a')]);
      await remove(gone);
      expect(await locks.release(holder, h(holder), [w('a')], { keepPlace: false })).toEqual([next]);
    });
  });

  describe('when a holder releases', () => {
    it('with keepPlace, keeps it first in line and wakes nobody behind it', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[w('a')], [w('a')]]);
      const [retried, next] = tickets as [string, string];
      await locks.acquire(retried, h(retried), [w('a')]);

      expect(await locks.release(retried, h(retried), [w('a')], { keepPlace: true })).toEqual([]);
      expect(await locks.renew(retried, h(retried), [w('a')])).toBe(false);
      expect(await locks.acquire(next, h(next), [w('a')])).toEqual({ acquired: false, blockedBy: retried });
      // The retry is a new run of the call: a new holder, free to take over at once.
      expect(await locks.acquire(retried, h(retried, 2), [w('a')])).toMatchObject({ acquired: true });

      expect(await locks.release(retried, h(retried, 2), [w('a')], { keepPlace: false })).toEqual([next]);
      expect(await locks.acquire(next, h(next), [w('a')])).toMatchObject({ acquired: true });
    });

    it('with keepPlace as a reader, does not wake the writer behind it', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[r('a')], [w('a')]]);
      const [retried, writer] = tickets as [string, string];
      await locks.acquire(retried, h(retried), [r('a')]);
      expect(await locks.release(retried, h(retried), [r('a')], { keepPlace: true })).toEqual([]);
      expect(await locks.acquire(writer, h(writer), [w('a')])).toEqual({ acquired: false, blockedBy: retried });
    });

    it('with keepPlace as a reader, still wakes the readers behind it', async () => {
      const { locks, message, remove } = world();
      const { tickets } = await message([[r('a')], [w('a')], [r('a')]]);
      const [retried, gone, reader] = tickets as [string, string, string];
      await locks.acquire(retried, h(retried), [r('a')]);
      expect(await locks.acquire(reader, h(reader), [r('a')])).toEqual({ acquired: false, blockedBy: gone });
      await remove(gone);
      expect(await locks.release(retried, h(retried), [r('a')], { keepPlace: true })).toEqual([reader]);
      expect(await locks.acquire(reader, h(reader), [r('a')])).toMatchObject({ acquired: true });
    });

    it('wakes the writer at the head of the line', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[w('a')], [w('a')], [r('a')]]);
      await locks.acquire(tickets[0]!, h(tickets[0]!), [w('a')]);
      expect(await locks.release(tickets[0]!, h(tickets[0]!), [w('a')], { keepPlace: false })).toEqual([tickets[1]]);
    });

    it('wakes the leading readers, up to the first writer', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[w('a')], [r('a')], [r('a')], [w('a')], [r('a')]]);
      await locks.acquire(tickets[0]!, h(tickets[0]!), [w('a')]);
      expect(await locks.release(tickets[0]!, h(tickets[0]!), [w('a')], { keepPlace: false })).toEqual([tickets[1], tickets[2]]);
    });

    it('does not wake a writer behind readers that still hold', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[r('a')], [r('a')], [w('a')]]);
      const [reader1, reader2, writer] = tickets as [string, string, string];
      await locks.acquire(reader1, h(reader1), [r('a')]);
      await locks.acquire(reader2, h(reader2), [r('a')]);
      expect(await locks.release(reader1, h(reader1), [r('a')], { keepPlace: false })).toEqual([]);
      expect(await locks.release(reader2, h(reader2), [r('a')], { keepPlace: false })).toEqual([writer]);
    });
  });

  describe('renew', () => {
    it('extends a held lease and reports false once the holder is gone', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[w('a'), w('b')], [w('c')]]);
      const [holder, other] = tickets as [string, string];
      expect(await locks.renew(holder, h(holder), [w('a'), w('b')])).toBe(false);
      await locks.acquire(holder, h(holder), [w('a'), w('b')]);
      expect(await locks.renew(holder, h(holder), [w('a'), w('b')])).toBe(true);
      expect(await locks.renew(other, h(other), [w('c')])).toBe(false);
      await locks.release(holder, h(holder), [w('a'), w('b')], { keepPlace: false });
      expect(await locks.renew(holder, h(holder), [w('a'), w('b')])).toBe(false);
    });

    it('matches the holder exactly, even when holder ids contain "|"', async () => {
      const { locks, message, prefix } = world();
      const { tickets } = await message([[w('a')]]);
      const [ticket] = tickets as [string];
      expect(await locks.acquire(ticket, 'run|2', [w('a')])).toMatchObject({ acquired: true });
      // 'run' is a prefix of 'run|2' as stored ('run|2|<expiry>'), yet another holder.
      expect(await locks.renew(ticket, 'run', [w('a')])).toBe(false);
      expect(await locks.release(ticket, 'run', [w('a')], { keepPlace: false })).toEqual([]);
      expect(await redis.zrange(`${prefix}:lock:q:a`, '0', '-1')).toEqual([ticket]);
      expect(await locks.renew(ticket, 'run|2', [w('a')])).toBe(true);
    });
  });

  describe('wouldAcquire', () => {
    it('answers without taking anything', async () => {
      const { locks, message } = world();
      const { tickets } = await message([[r('a')], [r('a')], [w('a')]]);
      const [reader1, reader2, writer] = tickets as [string, string, string];
      expect(await locks.wouldAcquire(reader1, h(reader1), [r('a')])).toBe(true);
      expect(await locks.wouldAcquire(writer, h(writer), [w('a')])).toBe(false);
      expect(await locks.renew(reader1, h(reader1), [r('a')])).toBe(false);

      expect(await locks.acquire(reader2, h(reader2), [r('a')])).toMatchObject({ acquired: true });
      await locks.release(reader2, h(reader2), [r('a')], { keepPlace: false });
      // The probing reader was never a holder: releasing as one leaves nothing; leaving as '*' does.
      expect(await locks.release(reader1, h(reader1), [r('a')], { keepPlace: false })).toEqual([]);
      expect(await locks.wouldAcquire(writer, h(writer), [w('a')])).toBe(false);
      await locks.release(reader1, '*', [r('a')], { keepPlace: false });
      expect(await locks.wouldAcquire(writer, h(writer), [w('a')])).toBe(true);
      expect(await locks.acquire(writer, h(writer), [w('a')])).toMatchObject({ acquired: true });
    });
  });
});

describe('OverrunHolds', () => {
  const LEASE_MS = 300;
  const logger = createLogger('test', 'silent');

  /** A call on `a` that answered while its body runs, handed to the holds; and the call behind it. */
  async function overrun(options: { abandonAfterMs: number }) {
    const { locks, message, finish, prefix } = world({ leaseMs: LEASE_MS });
    const waker = new JobWaker({ connection: redis });
    const abandoned: string[] = [];
    const holds = new OverrunHolds({ locks, waker, abandonAfterMs: options.abandonAfterMs, logger, onAbandoned: (tool) => abandoned.push(tool) });
    const { tickets } = await message([[w('a')], [w('a')]]);
    const [ticket, next] = tickets as [string, string];
    const [fencingToken] = await fences(locks.acquire(ticket, h(ticket), [w('a')]));
    await finish(ticket);
    const lost = new AbortController();
    const renewal = renewLease(locks, ticket, h(ticket), [w('a')], () => lost.abort());
    let settle = () => {};
    const body = new Promise<void>((resolve) => {
      settle = resolve;
    });
    holds.hold({ ticket, holder: h(ticket), claims: [w('a')], renewal, lost: lost.signal, body, tool: 'probe', taskId: 't', toolCallId: 'c', fencingToken });
    const nextTry = () => locks.acquire(next, h(next), [w('a')]);
    return { holds, abandoned, settle, fencingToken: fencingToken!, nextTry, ticket, prefix, waker };
  }

  it('renews the lease of a call that answered while its body runs, and releases when the body ends', async () => {
    const { holds, abandoned, settle, nextTry, ticket, waker } = await overrun({ abandonAfterMs: 10_000 });
    await sleep(LEASE_MS * 2.5);
    expect(await nextTry()).toEqual({ acquired: false, blockedBy: ticket });
    expect(holds.size).toBe(1);
    settle();
    await waitFor(async () => (await nextTry()).acquired);
    // The lock goes first; the hold is let go once the release has woken who is next.
    await waitFor(() => holds.size === 0);
    expect(abandoned).toEqual([]);
    await waker.close();
  });

  it('abandons a body still running at the bound: lets go, counts it, and the next holder gets a higher token', async () => {
    const { holds, abandoned, fencingToken, nextTry, waker } = await overrun({ abandonAfterMs: 200 });
    const [next] = await waitFor(async () => {
      const acquired = await nextTry();
      return acquired.acquired ? acquired.fences : undefined;
    });
    expect(next).toBeGreaterThan(fencingToken);
    expect(abandoned).toEqual(['probe']);
    expect(holds.size).toBe(0);
    await waker.close();
  });

  it('abandons a body whose lease was found lost', async () => {
    const { holds, abandoned, ticket, prefix, waker } = await overrun({ abandonAfterMs: 10_000 });
    // As if its worker had stood still past the lease and the ticket had been dropped meanwhile.
    await redis.hdel(`${prefix}:lock:h:a`, ticket);
    await waitFor(() => abandoned.length > 0);
    expect(abandoned).toEqual(['probe']);
    expect(holds.size).toBe(0);
    await waker.close();
  });

  it('on drain, waits for bodies up to the time given, then stops renewing without letting go', async () => {
    const { holds, abandoned, nextTry, ticket, waker } = await overrun({ abandonAfterMs: 10_000 });
    const started = Date.now();
    await holds.drain(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(holds.size).toBe(0);
    // The body dies with the process: its lease lapses after it, never before.
    expect(await nextTry()).toEqual({ acquired: false, blockedBy: ticket });
    await sleep(LEASE_MS + 50);
    expect(await nextTry()).toMatchObject({ acquired: true });
    expect(abandoned).toEqual([]);
    await waker.close();
  });
});

describe('CallResults', () => {
  const result: ToolCallResult = {
    ok: true,
    content: '{"balance":97}',
    tool_call_id: 'call_1',
    started_at: 1_000,
    finished_at: 1_250,
    worker_id: 'worker-1',
    attempts: 2,
    lock_wait_ms: 40,
  };

  /** A call of a fresh message that holds resource `a` as `holder`. */
  async function holding(holder = 'run-1') {
    const { prefix, locks, message } = world();
    const { tickets } = await message([[w('a')]]);
    expect(await locks.acquire(tickets[0]!, holder, [w('a')])).toMatchObject({ acquired: true });
    return { prefix, locks, held: { ticket: tickets[0]!, holder, claims: [w('a')] } };
  }

  it('returns what was put under the idempotency key while the run held its locks', async () => {
    const { prefix, locks, held } = await holding();
    const results = new CallResults({ redis, prefix });
    expect(await results.putWhileHolding('fan-1-c0/call_1', result, locks, held)).toBe(true);
    expect(await results.get('fan-1-c0/call_1')).toEqual(result);
    const { content: _content, ...timing } = result as Extract<ToolCallResult, { ok: true }>;
    const failed: ToolCallResult = { ...timing, ok: false, error: { code: 'tool_error', message: 'no' } };
    expect(await results.putWhileHolding('fan-1-c1/call_2', failed, locks, held)).toBe(true);
    expect(await results.get('fan-1-c1/call_2')).toEqual(failed);
  });

  it('records nothing for a run whose lock a redelivery of its call took over', async () => {
    const { prefix, locks, held } = await holding('run-1');
    await sleep(1_100);
    // The lease lapsed; the redelivered call (same ticket, new run) takes the lock over.
    expect(await locks.acquire(held.ticket, 'run-2', held.claims)).toMatchObject({ acquired: true });
    const results = new CallResults({ redis, prefix });
    expect(await results.putWhileHolding('k', result, locks, held)).toBe(false);
    expect(await results.get('k')).toBeUndefined();
    expect(await results.putWhileHolding('k', result, locks, { ...held, holder: 'run-2' })).toBe(true);
  });

  it('returns nothing for an unknown key, or a record from another prefix', async () => {
    const { prefix, locks, held } = await holding();
    await new CallResults({ redis, prefix }).putWhileHolding('k', result, locks, held);
    expect(await new CallResults({ redis, prefix }).get('other')).toBeUndefined();
    expect(await new CallResults({ redis, prefix: `${prefix}x` }).get('k')).toBeUndefined();
  });

  it('keeps a record for a day and ignores one that is not a result', async () => {
    const { prefix, locks, held } = await holding();
    const results = new CallResults({ redis, prefix });
    await results.putWhileHolding('k', result, locks, held);
    const ttl = await redis.ttl(`${prefix}:callresult:k`);
    expect(ttl).toBeGreaterThan(24 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(24 * 3600);
    await redis.set(`${prefix}:callresult:bad`, JSON.stringify({ ok: true }));
    expect(await results.get('bad')).toBeUndefined();
  });
});
