import { defineTool, type ToolContext } from '@volley/tools';
import { describe, expect, it } from 'vitest';
import { executeTool } from './execute-tool.ts';
import { createToolSet } from './tool-set.ts';

const ctx: Omit<ToolContext, 'signal'> = {
  toolCallId: 'call_1',
  taskId: 'task-1',
  attempt: 1,
  workerId: 'w',
  tenant: null,
  idempotencyKey: 'k',
  progress: () => undefined,
};

function loaded(execute: (args: Record<string, unknown>, ctx: ToolContext) => unknown) {
  const tool = defineTool({ name: 'probe', description: 'test tool', parameters: { type: 'object', properties: {} }, execute });
  return createToolSet([{ tool, source: 'test' }]).get('probe')!;
}

describe('executeTool', () => {
  describe('when the answer comes before the body ends', () => {
    it('at the timeout, reports the body still running, with a promise that settles when it does', async () => {
      let finish = () => {};
      const tool = loaded(() => new Promise<string>((resolve) => (finish = () => resolve('late'))));
      const overruns: Promise<unknown>[] = [];

      const outcome = await executeTool(tool, {}, ctx, { timeoutMs: 20, canRetry: false, onOverrun: (body) => overruns.push(body) });

      expect(outcome).toMatchObject({ error: { code: 'tool_timeout' } });
      expect(overruns).toHaveLength(1);
      let settled = false;
      void overruns[0]!.then(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(settled).toBe(false);
      finish();
      await expect(overruns[0]).resolves.toEqual({ content: 'late' });
    });

    it('on an outer abort, reports it once, even when the timeout fires after', async () => {
      const outer = new AbortController();
      const tool = loaded(() => new Promise(() => undefined));
      const overruns: Promise<unknown>[] = [];
      const running = executeTool(tool, {}, ctx, { timeoutMs: 30, canRetry: false, abort: [outer.signal], onOverrun: (body) => overruns.push(body) });
      outer.abort();

      expect(await running).toMatchObject({ error: { code: 'cancelled' } });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(overruns).toHaveLength(1);
    });

    it('reports a body aborted while it was still starting', async () => {
      const outer = new AbortController();
      const tool = loaded(() => {
        outer.abort();
        return new Promise(() => undefined);
      });
      const overruns: Promise<unknown>[] = [];

      const outcome = await executeTool(tool, {}, ctx, { timeoutMs: 1_000, canRetry: false, abort: [outer.signal], onOverrun: (body) => overruns.push(body) });

      expect(outcome).toMatchObject({ error: { code: 'cancelled' } });
      expect(overruns).toHaveLength(1);
    });
  });

  describe('when the body ends first', () => {
    it('reports no overrun', async () => {
      const overruns: Promise<unknown>[] = [];
      const outcome = await executeTool(
        loaded(() => 'done'),
        {},
        ctx,
        { timeoutMs: 50, canRetry: false, onOverrun: (body) => overruns.push(body) },
      );
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(outcome).toEqual({ content: 'done' });
      expect(overruns).toEqual([]);
    });
  });
});
