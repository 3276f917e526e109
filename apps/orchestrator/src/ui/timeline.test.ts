import { describe, expect, it } from 'vitest';
import { applyEvent, createTimeline, findCall, isPending, segmentsOf } from './timeline.js';

const ev = (name: string, at: number, fields: Record<string, unknown> = {}) => [name, { task_id: 't', turn: 0, at, ...fields }] as const;

describe('the timeline of a task', () => {
  describe('when a call waited for a lock, then ran', () => {
    it('cuts its bar into queue wait, lock wait and run', () => {
      const timeline = createTimeline();
      for (const [name, data] of [
        ev('llm.started', 0),
        ev('llm.finished', 10, { started_at: 0, finished_at: 10, tool_call_count: 1 }),
        ev('tool_call.queued', 12, { tool_call_id: 'c', name: 'write', index: 0 }),
        ev('tool_call.waiting_lock', 15, { tool_call_id: 'c', name: 'write' }),
        ev('tool_call.started', 40, { tool_call_id: 'c', name: 'write', worker_id: 'worker-1' }),
        ev('tool_call.finished', 70, { tool_call_id: 'c', name: 'write', status: 'succeeded', worker_id: 'worker-1' }),
      ])
        applyEvent(timeline, name, data);
      const call = findCall(timeline, 'c')!;
      expect(call).toMatchObject({ status: 'succeeded', workerId: 'worker-1' });
      expect(segmentsOf(call, 1000).map(({ kind, from, to }) => [kind, from, to])).toEqual([
        ['queue', 12, 15],
        ['lock', 15, 40],
        ['run', 40, 70],
      ]);
      expect(timeline.turns.get(0)!.llm).toMatchObject({ startedAt: 0, finishedAt: 10 });
    });
  });

  describe('when a call waits for approval', () => {
    it('grows its approval wait to now while pending, then shows the run after the decision', () => {
      const timeline = createTimeline();
      applyEvent(timeline, ...ev('tool_call.queued', 10, { tool_call_id: 'g', name: 'guarded', index: 0 }));
      applyEvent(timeline, ...ev('approval.requested', 20, { tool_call_id: 'g', name: 'guarded', requested_at: 20 }));
      const call = findCall(timeline, 'g')!;
      expect(isPending(call)).toBe(true);
      expect(segmentsOf(call, 500).map(({ kind, to, live }) => [kind, to, live])).toEqual([
        ['queue', 20, false],
        ['approval', 500, true],
      ]);
      applyEvent(timeline, ...ev('approval.decided', 600, { tool_call_id: 'g', approve: true, decided_at: 600 }));
      applyEvent(timeline, ...ev('tool_call.started', 620, { tool_call_id: 'g', name: 'guarded', worker_id: 'worker-2' }));
      expect(isPending(call)).toBe(false);
      expect(call.status).toBe('running');
      applyEvent(timeline, ...ev('tool_call.finished', 700, { tool_call_id: 'g', name: 'guarded', status: 'succeeded' }));
      expect(segmentsOf(call, 9999).map(({ kind, from, to }) => [kind, from, to])).toEqual([
        ['queue', 10, 20],
        ['approval', 20, 600],
        ['queue', 600, 620],
        ['run', 620, 700],
      ]);
    });

    it('shows no run for a denied call', () => {
      const timeline = createTimeline();
      applyEvent(timeline, ...ev('tool_call.queued', 10, { tool_call_id: 'g', name: 'guarded', index: 0 }));
      applyEvent(timeline, ...ev('approval.requested', 20, { tool_call_id: 'g', requested_at: 20 }));
      applyEvent(timeline, ...ev('approval.decided', 50, { tool_call_id: 'g', approve: false, reason: 'no', decided_at: 50 }));
      applyEvent(timeline, ...ev('tool_call.finished', 55, { tool_call_id: 'g', status: 'failed', error_code: 'denied' }));
      const call = findCall(timeline, 'g')!;
      expect(call).toMatchObject({ status: 'failed', approval: { approve: false, reason: 'no' } });
      expect(segmentsOf(call, 9999).map(({ kind }) => kind)).toEqual(['queue', 'approval', 'queue']);
    });
  });
});
