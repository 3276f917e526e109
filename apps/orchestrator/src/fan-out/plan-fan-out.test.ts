import { toolQueueName, type PublishedTool, type ToolCall } from '@volley/shared';
import { describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../tools/tool-catalog.ts';
import { planFanOut, type PlanInput } from './plan-fan-out.ts';

function entry(name: string, pool: string, retries = 0): [string, CatalogEntry] {
  const tool: PublishedTool = {
    type: 'function',
    function: { name, description: `${name} tool`, parameters: { type: 'object', properties: {} } },
    volley: { sideEffects: false, locks: false, retries },
  };
  return [name, { tool, pool, queue: toolQueueName(pool), workers: 1 }];
}

const catalog = new Map<string, CatalogEntry>([entry('get_weather', 'default'), entry('get_time', 'default', 2), entry('charge_card', 'payments', 4)]);

function call(id: string, name: string, args = '{}'): ToolCall {
  return { id, type: 'function', function: { name, arguments: args } };
}

function plan(toolCalls: ToolCall[], overrides: Partial<PlanInput> = {}) {
  return planFanOut({ fanOutId: 'task-1-t0', taskId: 'task-1', prefix: 'volley', toolCalls, catalog, offered: null, maxArgumentBytes: 1024, ...overrides });
}

describe('planFanOut', () => {
  describe('when every call names a catalog tool', () => {
    const toolCalls = [
      call('call_a', 'get_weather', '{"city":"Paris"}'),
      call('call_b', 'charge_card', '{"cents":100}'),
      call('call_c', 'get_time', '{"tz":"UTC"}'),
    ];

    it('keeps one slot per call in the model order, each naming its job', () => {
      expect(plan(toolCalls).slots).toEqual([
        { tool_call_id: 'call_a', name: 'get_weather', pool: 'default', job_id: 'task-1-t0-c0' },
        { tool_call_id: 'call_b', name: 'charge_card', pool: 'payments', job_id: 'task-1-t0-c1' },
        { tool_call_id: 'call_c', name: 'get_time', pool: 'default', job_id: 'task-1-t0-c2' },
      ]);
    });

    it("makes one child job per call on its pool's queue, with the raw arguments", () => {
      const { children } = plan(toolCalls);

      expect(children.map((child) => [child.name, child.queueName, child.opts.jobId])).toEqual([
        ['get_weather', 'tools-default', 'task-1-t0-c0'],
        ['charge_card', 'tools-payments', 'task-1-t0-c1'],
        ['get_time', 'tools-default', 'task-1-t0-c2'],
      ]);
      expect(children[0]?.data).toEqual({
        taskId: 'task-1',
        toolCallId: 'call_a',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      });
    });

    it("gives each child one attempt more than the tool has retries (BullMQ's default of one left unset)", () => {
      const { children } = plan(toolCalls);
      expect(children.map((child) => child.opts.attempts ?? 1)).toEqual([1, 5, 3]);
      expect(children.map((child) => child.opts.backoff)).toEqual([undefined, { type: 'exponential', delay: 250 }, { type: 'exponential', delay: 250 }]);
    });

    it('makes the same job ids every time, so a retried step adds nothing new', () => {
      expect(plan(toolCalls)).toEqual(plan(toolCalls));
    });

    it('passes the deadline to every child', () => {
      const deadline = Date.now() + 30_000;

      const { children } = plan(toolCalls, { deadline });

      expect(children.map((child) => (child.data as { deadline?: number }).deadline)).toEqual([deadline, deadline, deadline]);
    });

    it('leaves the deadline out when there is none', () => {
      expect(plan(toolCalls).children.every((child) => !Object.hasOwn(child.data as object, 'deadline'))).toBe(true);
    });
  });

  describe('when a call names a tool not in the catalog', () => {
    it('fills its slot with an unknown_tool result, makes no child, and keeps the others in order', () => {
      const { slots, children } = plan([call('call_a', 'get_weather'), call('call_b', 'get_wether'), call('call_c', 'get_time')]);

      expect(slots[1]).toEqual({
        tool_call_id: 'call_b',
        name: 'get_wether',
        result: {
          ok: false,
          error: { code: 'unknown_tool', message: 'no tool named "get_wether" is available' },
          tool_call_id: 'call_b',
          started_at: null,
          finished_at: null,
          worker_id: null,
          attempts: 0,
        },
      });
      expect(slots.map((slot) => slot.tool_call_id)).toEqual(['call_a', 'call_b', 'call_c']);
      expect(children.map((child) => child.opts.jobId)).toEqual(['task-1-t0-c0', 'task-1-t0-c2']);
    });
  });

  describe('when a call names a catalog tool the model was not offered', () => {
    it('treats it as unknown', () => {
      const { slots, children } = plan([call('call_a', 'get_weather'), call('call_b', 'charge_card')], {
        offered: new Set(['get_weather']),
      });

      expect(slots[1]).toMatchObject({ tool_call_id: 'call_b', result: { ok: false, error: { code: 'unknown_tool' } } });
      expect(children.map((child) => child.name)).toEqual(['get_weather']);
    });
  });

  describe('when a name only looks like a tool or an object property', () => {
    it.each([
      ['__proto__', '__proto__'],
      ['constructor', 'constructor'],
      ['toString', 'toString'],
      ['a zero-width space', 'get_weather\u200b'],
      ['a Cyrillic homoglyph', 'g\u0435t_weather'],
      ['a NUL byte', 'get_weather\u0000'],
      ['a different case', 'Get_Weather'],
      ['surrounding spaces', ' get_weather '],
      ['an empty name', ''],
    ])('treats %s as unknown', (_kind, name) => {
      const { slots, children } = plan([call('call_x', name)]);

      expect(slots).toHaveLength(1);
      expect(slots[0]).toMatchObject({ tool_call_id: 'call_x', name, result: { ok: false, error: { code: 'unknown_tool' } } });
      expect(children).toEqual([]);
    });

    it('shows the odd name escaped in the message', () => {
      const { slots } = plan([call('call_x', 'get_weather\u0000')]);

      const slot = slots[0];
      expect(slot && 'result' in slot && !slot.result.ok && slot.result.error.message).toBe('no tool named "get_weather\\u0000" is available');
    });
  });

  describe('when there are no calls', () => {
    it('plans nothing', () => {
      expect(plan([])).toEqual({ slots: [], children: [] });
    });
  });

  describe('when a call carries arguments over the size limit', () => {
    it('answers it arguments_too_large without a job, counting UTF-8 bytes', () => {
      const big = JSON.stringify({ city: 'é'.repeat(600) });
      const result = plan([call('call_big', 'get_weather', big), call('call_ok', 'get_weather', '{}')]);
      expect(result.children.map((child) => child.opts.jobId)).toEqual(['task-1-t0-c1']);
      expect(result.slots[0]).toMatchObject({ tool_call_id: 'call_big', result: { ok: false, error: { code: 'arguments_too_large' } } });
    });
  });
});

describe('planFanOut approval', () => {
  const toolCalls = [call('call_a', 'get_weather'), call('call_b', 'charge_card')];
  const approvalOf = (overrides: Partial<PlanInput>) => plan(toolCalls, overrides).children.map((child) => (child.data as { approval?: unknown }).approval);

  describe('when neither a rule nor pre-approvals are given', () => {
    it('adds nothing to the job data (the tools alone decide, on the worker)', () => {
      expect(approvalOf({})).toEqual([undefined, undefined]);
    });
  });

  describe('when the task has a rule', () => {
    it('carries it on every call, for the worker to apply to the tool it runs', () => {
      expect(approvalOf({ approval: { require: ['charge_card'] } })).toEqual([{ require: ['charge_card'] }, { require: ['charge_card'] }]);
    });
  });

  describe('when the request approved calls in advance', () => {
    it('marks exactly those calls approved', () => {
      expect(approvalOf({ approval: { approved: new Set(['call_b', 'call_z']) } })).toEqual([undefined, { approved: true }]);
    });
  });
});
