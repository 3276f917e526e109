import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { coalesceText } from './text-deltas.ts';

describe('coalesceText', () => {
  describe('when pieces come faster than the interval', () => {
    it('sends the first at once and the rest as one delta, in order, all of the text', async () => {
      const sent: string[] = [];
      const deltas = coalesceText(async (text) => void sent.push(text), { intervalMs: 50 });

      for (const piece of ['a', 'b', 'c', 'd']) deltas.push(piece);
      expect(sent).toEqual([]);
      await Promise.resolve();
      expect(sent).toEqual(['a']);
      await deltas.flush();

      expect(sent).toEqual(['a', 'bcd']);
    });

    it('sends at once when maxChars piled up', async () => {
      const sent: string[] = [];
      const deltas = coalesceText(async (text) => void sent.push(text), { intervalMs: 10_000, maxChars: 3 });

      for (const piece of ['a', 'b', 'c', 'd', 'e', 'f']) deltas.push(piece);
      await deltas.flush();

      expect(sent).toEqual(['a', 'bcd', 'ef']);
    });
  });

  describe('when pieces come slower than the interval', () => {
    it('sends a trailing delta after the interval without a flush', async () => {
      const sent: string[] = [];
      const deltas = coalesceText(async (text) => void sent.push(text), { intervalMs: 20 });

      deltas.push('a');
      deltas.push('b');
      await sleep(60);

      expect(sent).toEqual(['a', 'b']);
    });
  });

  describe('when a send is slow', () => {
    it('never sends two at once, and keeps their order', async () => {
      const sent: string[] = [];
      let inFlight = 0;
      let most = 0;
      const deltas = coalesceText(
        async (text) => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          await sleep(15);
          sent.push(text);
          inFlight -= 1;
        },
        { intervalMs: 5, maxChars: 1 },
      );

      for (const piece of ['a', 'b', 'c']) deltas.push(piece);
      await deltas.flush();

      expect(sent).toEqual(['a', 'b', 'c']);
      expect(most).toBe(1);
    });
  });

  describe('when a send fails, or the call failed', () => {
    it('rethrows the failure from flush', async () => {
      const deltas = coalesceText(async () => {
        throw new Error('redis down');
      });
      deltas.push('a');
      await expect(deltas.flush()).rejects.toThrow('redis down');
    });

    it('drops what is pending with flush(true)', async () => {
      const sent: string[] = [];
      const deltas = coalesceText(async (text) => void sent.push(text), { intervalMs: 1_000 });
      deltas.push('a');
      deltas.push('b');
      await deltas.flush(true);
      expect(sent).toEqual(['a']);
    });
  });
});
