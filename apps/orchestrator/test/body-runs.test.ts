import { describe, expect, it } from 'vitest';
import { bodyRuns, overlapsOn, wallOverlapCount, type BodyRecord, type Fence, type Stall } from './support/body-runs.ts';

/** The fault run's overlap check, on body records made up to show each case it must tell apart. */

let runs = 0;
function body(worker: string, fences: Fence[], enter: number, exit?: { at: number; accepted: boolean }): BodyRecord[] {
  runs += 1;
  const run = `run-${runs}`;
  const common = { run, label: run, task: 'task', toolCallId: run, worker, attempt: 1, fences };
  return [
    { ...common, phase: 'enter', at: enter, accepted: true },
    ...(exit ? [{ ...common, phase: 'exit' as const, at: exit.at, accepted: exit.accepted, aborted: false, signalled: false }] : []),
  ];
}
const write = (token: number): Fence[] => [{ key: 'k', mode: 'write', token }];
const read = (token: number): Fence[] => [{ key: 'k', mode: 'read', token }];
const check = (records: BodyRecord[], kills: Record<string, number> = {}, stalls: Stall[] = []) =>
  overlapsOn(bodyRuns(records, new Map(Object.entries(kills)), stalls)).map((o) => (o.fenced ? 'fenced' : 'violation'));

describe('overlapsOn', () => {
  describe('when nothing stood still', () => {
    it('reports two writers of one key at once', () => {
      expect(check([...body('w1', write(1), 0, { at: 100, accepted: true }), ...body('w2', write(2), 50, { at: 150, accepted: false })])).toEqual([
        'violation',
      ]);
    });

    it('reports a writer beside a reader, and lets readers share', () => {
      expect(check([...body('w1', read(1), 0, { at: 100, accepted: true }), ...body('w2', write(2), 50, { at: 150, accepted: true })])).toEqual(['violation']);
      expect(check([...body('w1', read(1), 0, { at: 100, accepted: true }), ...body('w2', read(2), 50, { at: 150, accepted: true })])).toEqual([]);
    });

    it('reports bodies one after the other as nothing', () => {
      expect(check([...body('w1', write(1), 0, { at: 100, accepted: true }), ...body('w2', write(2), 100, { at: 150, accepted: true })])).toEqual([]);
    });

    it('counts a body killed with its worker as running until the kill', () => {
      const records = [...body('w1', write(1), 0), ...body('w2', write(2), 40, { at: 90, accepted: true })];
      expect(check(records, { w1: 50 })).toEqual(['violation']);
      expect(check(records, { w1: 30 })).toEqual([]);
    });

    it('reports a body with nothing to fence it by (no token) whatever else happened', () => {
      const stalls = [{ who: 'w1', from: 20, to: 2_050 }];
      expect(
        check([...body('w1', write(0), 0, { at: 2_060, accepted: true }), ...body('w2', write(0), 2_000, { at: 2_100, accepted: true })], {}, stalls),
      ).toEqual(['violation']);
    });
  });

  describe('when the first holder was paused and taken over', () => {
    const stalls = [{ who: 'w1', from: 20, to: 2_050 }];

    it('is nothing while it stood still: a stopped body does nothing', () => {
      const records = [...body('w1', write(1), 0, { at: 2_060, accepted: false }), ...body('w2', write(2), 1_000, { at: 1_100, accepted: true })];
      expect(check(records, {}, stalls)).toEqual([]);
      expect(wallOverlapCount(bodyRuns(records, new Map(), stalls))).toBe(1);
    });

    it('is fenced when it woke while the new holder ran and its late write was refused', () => {
      expect(
        check([...body('w1', write(1), 0, { at: 2_060, accepted: false }), ...body('w2', write(2), 2_000, { at: 2_100, accepted: true })], {}, stalls),
      ).toEqual(['fenced']);
    });

    it('is a violation when its late write went through', () => {
      expect(
        check([...body('w1', write(1), 0, { at: 2_060, accepted: true }), ...body('w2', write(2), 2_000, { at: 2_100, accepted: true })], {}, stalls),
      ).toEqual(['violation']);
    });

    it('is a violation when the paused one holds the newer token: the engine let the new one in beside a live holder', () => {
      expect(
        check([...body('w1', write(2), 0, { at: 2_060, accepted: false }), ...body('w2', write(1), 2_000, { at: 2_100, accepted: false })], {}, stalls),
      ).toEqual(['violation']);
    });
  });

  describe('when Redis froze', () => {
    it('treats a holder that ran through the freeze as stale: fenced only if its late write was refused', () => {
      const stalls = [{ who: 'redis', from: 10, to: 1_800 }];
      const taken = (accepted: boolean) => [...body('w1', write(1), 0, { at: 2_100, accepted }), ...body('w2', write(2), 2_000, { at: 2_200, accepted: true })];
      expect(check(taken(false), {}, stalls)).toEqual(['fenced']);
      expect(check(taken(true), {}, stalls)).toEqual(['violation']);
    });
  });
});
