import { describe, expect, it } from 'vitest';
import { CallSlots } from './call-slots.ts';

const signal = () => new AbortController().signal;

describe('CallSlots', () => {
  describe('when calls exceed the limit', () => {
    it('lets the next one in as a slot frees, in arrival order, never more than the limit at once', async () => {
      const slots = new CallSlots(2);
      const order: string[] = [];
      const first = await slots.acquire(signal());
      const second = await slots.acquire(signal());
      const third = slots.acquire(signal()).then((release) => {
        order.push('third');
        return release;
      });
      const fourth = slots.acquire(signal()).then((release) => {
        order.push('fourth');
        return release;
      });
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(order).toEqual([]);
      first();
      // A newcomer arriving as the slot is handed over does not take it.
      const newcomer = slots.acquire(signal()).then((release) => {
        order.push('newcomer');
        return release;
      });
      expect(slots.busy).toBe(2);
      (await third)();
      second();
      await fourth;
      await newcomer;
      expect(order).toEqual(['third', 'fourth', 'newcomer']);
      expect(slots.busy).toBe(2);
    });
  });

  describe('when a waiting call is aborted', () => {
    it('leaves the line with the signal’s reason, and the slot goes to the next', async () => {
      const slots = new CallSlots(1);
      const release = await slots.acquire(signal());
      const controller = new AbortController();
      const waiting = slots.acquire(controller.signal);
      const next = slots.acquire(signal());
      controller.abort(new Error('timed out'));
      await expect(waiting).rejects.toThrow('timed out');
      release();
      (await next)();
      expect(slots.busy).toBe(0);
    });
  });

  describe('without a limit', () => {
    it('never waits', async () => {
      const slots = new CallSlots(undefined);
      await Promise.all(Array.from({ length: 100 }, () => slots.acquire(signal())));
      expect(slots.busy).toBe(100);
    });
  });

  it('counts a release called twice once', async () => {
    const slots = new CallSlots(1);
    const release = await slots.acquire(signal());
    release();
    release();
    expect(slots.busy).toBe(0);
  });
});
