import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { preliminaryResults } from './preliminary-results.ts';

describe('preliminaryResults', () => {
  describe('when the run reports while it runs', () => {
    it('yields each report as it comes, then the result, and awaited is the result alone', async () => {
      const seen: Array<[unknown, number]> = [];
      const started = Date.now();
      const results = preliminaryResults(async (report) => {
        report(1);
        await delay(50);
        report(2);
        report(3);
        await delay(20);
        return 'done';
      });
      for await (const value of results) seen.push([value, Date.now() - started]);
      expect(seen.map(([value]) => value)).toEqual([1, 2, 3, 'done']);
      expect(seen[0]![1]).toBeLessThan(40);
      expect(await results).toBe('done');
    });
  });

  describe('when the run fails', () => {
    it('yields the reports before it, then throws its error', async () => {
      const results = preliminaryResults(async (report) => {
        report('half');
        await delay(5);
        throw new Error('tool failed');
      });
      const values: unknown[] = [];
      await expect(
        (async () => {
          for await (const value of results) values.push(value);
        })(),
      ).rejects.toThrow('tool failed');
      expect(values).toEqual(['half']);
    });
  });

  it('starts the run at once, before anything reads', async () => {
    let ran = false;
    const results = preliminaryResults(async () => {
      ran = true;
    });
    expect(ran).toBe(true);
    await results;
  });
});
