import { describe, expect, it } from 'vitest';
import { readyDelayedMaxScore } from './pool-state.ts';
import { poolSignal } from './pool-signal.ts';

const idle = { waiting: 0, prioritized: 0, readyDelayed: 0, active: 0 };

describe('poolSignal', () => {
  describe('when calls wait for more slots than the pool has', () => {
    it('counts waiting, prioritized, due delayed and active calls, and the missing slots', () => {
      const signal = poolSignal({ waiting: 5, prioritized: 2, readyDelayed: 1, active: 4 }, 4);

      expect(signal).toEqual({ backlog: 12, slots: 4, deficit: 8 });
    });
  });

  describe('when the pool has idle slots', () => {
    it('goes below zero, unfloored, by the idle slots', () => {
      expect(poolSignal({ ...idle, active: 3 }, 16)).toEqual({ backlog: 3, slots: 16, deficit: -13 });
      expect(poolSignal(idle, 16).deficit).toBe(-16);
    });
  });

  describe('when every slot is busy and nothing waits', () => {
    it('is exactly zero: no worker to add, none to spare', () => {
      expect(poolSignal({ ...idle, active: 8 }, 8).deficit).toBe(0);
    });
  });

  describe('when the pool has no live worker', () => {
    it('asks for a slot per call, active ones included (their worker may be gone)', () => {
      expect(poolSignal({ ...idle, waiting: 3, active: 1 }, 0)).toEqual({ backlog: 4, slots: 0, deficit: 4 });
    });
  });
});

describe('readyDelayedMaxScore', () => {
  // BullMQ scores a delayed job (due × 0x1000 + n), n < 4096 keeping FIFO order within one ms.
  const score = (due: number, n = 0) => due * 0x1000 + n;
  const now = 1_760_000_000_000;

  it('takes every job due by now, whatever its order number within the millisecond', () => {
    expect(score(now - 5_000)).toBeLessThanOrEqual(readyDelayedMaxScore(now));
    expect(score(now, 0)).toBeLessThanOrEqual(readyDelayedMaxScore(now));
    expect(score(now, 4095)).toBeLessThanOrEqual(readyDelayedMaxScore(now));
  });

  it('leaves out jobs due later, from the next millisecond on', () => {
    expect(score(now + 1, 0)).toBeGreaterThan(readyDelayedMaxScore(now));
    expect(score(now + 5_000)).toBeGreaterThan(readyDelayedMaxScore(now));
  });

  it('stays an exact integer for epoch-ms times', () => {
    expect(Number.isSafeInteger(readyDelayedMaxScore(now))).toBe(true);
  });
});
