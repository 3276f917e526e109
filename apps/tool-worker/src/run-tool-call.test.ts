import { createLogger, type ToolCallJobData } from '@volley/shared';
import { defineTool, ToolError, type ToolContext } from '@volley/tools';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createToolCallProcessor, RetryableToolFailure } from './run-tool-call.ts';
import { createToolSet } from './tool-set.ts';

const WORKER_ID = 'worker-test-1';
/** `VOLLEY_MAX_RESULT_BYTES` of the processors here. */
const MAX_RESULT_BYTES = 1_000;
const logger = createLogger('test', 'silent');

interface JobShape {
  attemptsStarted?: number;
  attemptsMade?: number;
  attempts?: number;
}

/** The fields of a BullMQ job the processor reads, as plain data. */
function job(data: Partial<ToolCallJobData> & { name: string }, shape: JobShape = {}): Job {
  const { attemptsStarted = 1, attemptsMade = 0, attempts = 1 } = shape;
  return {
    id: 'fan-1-c0',
    data: { taskId: 'task-1', toolCallId: 'call_1', arguments: '{}', ...data },
    attemptsStarted,
    attemptsMade,
    opts: { attempts },
  } as unknown as Job;
}

function processorFor(execute: (args: Record<string, unknown>, ctx: ToolContext) => unknown, options = {}) {
  const tool = defineTool({
    name: 'probe',
    description: 'test tool',
    parameters: { type: 'object', properties: { text: { type: 'string' } } },
    execute,
    ...options,
  });
  return createToolCallProcessor({
    tools: createToolSet([{ tool, source: 'test' }]),
    workerId: WORKER_ID,
    defaultTimeoutMs: 5000,
    maxArgumentDepth: 8,
    maxResultBytes: MAX_RESULT_BYTES,
    logger,
  });
}

describe('createToolCallProcessor', () => {
  describe('when the tool returns a value', () => {
    it('passes a string through as the content, with the call timing', async () => {
      const before = Date.now();

      const result = await processorFor(() => 'sunny, 21°C')(job({ name: 'probe' }));

      expect(result).toMatchObject({
        ok: true,
        content: 'sunny, 21°C',
        tool_call_id: 'call_1',
        worker_id: WORKER_ID,
        attempts: 1,
      });
      expect(result.started_at).toBeGreaterThanOrEqual(before);
      expect(result.finished_at).toBeGreaterThanOrEqual(result.started_at!);
    });

    it('renders an object as its JSON text', async () => {
      const result = await processorFor(() => ({ temp: 21, unit: 'C', tags: ['dry'] }))(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: true, content: '{"temp":21,"unit":"C","tags":["dry"]}' });
    });

    it('renders undefined as null', async () => {
      const result = await processorFor(() => undefined)(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: true, content: 'null' });
    });

    it('waits for an async tool', async () => {
      const result = await processorFor(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return 42;
      })(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: true, content: '42' });
    });

    it('gives the tool its validated arguments', async () => {
      const result = await processorFor((args) => args)(job({ name: 'probe', arguments: '{"text":"hi"}' }));

      expect(result).toMatchObject({ ok: true, content: '{"text":"hi"}' });
    });

    it('reports a result that is not JSON as result_not_serializable', async () => {
      const result = await processorFor(() => ({ big: 10n }))(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: false, error: { code: 'result_not_serializable' } });
      if (result.ok) return;
      expect(result.error.message).toMatch(/^the tool's result is not JSON: /);
    });
  });

  describe('when the result is larger than VOLLEY_MAX_RESULT_BYTES', () => {
    it('keeps a result of exactly the limit', async () => {
      const result = await processorFor(() => 'x'.repeat(MAX_RESULT_BYTES))(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: true, content: 'x'.repeat(MAX_RESULT_BYTES) });
    });

    it('answers result_too_large with the size and the limit, counting UTF-8 bytes of the text the model would read', async () => {
      // 501 characters, 1,002 bytes: the limit is on bytes, not characters.
      const result = await processorFor(() => 'é'.repeat(501))(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: false, tool_call_id: 'call_1', worker_id: WORKER_ID, error: { code: 'result_too_large' } });
      if (result.ok) return;
      expect(result.error.message).toBe(
        'the tool ran, but its result is 1002 bytes, more than this worker keeps (VOLLEY_MAX_RESULT_BYTES: 1000); the result was dropped',
      );
    });

    it('measures an object by its JSON text, and does not retry the call', async () => {
      let runs = 0;
      const result = await processorFor(() => {
        runs += 1;
        return { rows: Array.from({ length: 400 }, (_, i) => i) };
      })(job({ name: 'probe' }, { attempts: 3 }));

      expect(result).toMatchObject({ ok: false, error: { code: 'result_too_large' } });
      expect(runs).toBe(1);
    });
  });

  describe('when the tool runs', () => {
    it('gives it the call id, task id, attempt, worker id and a live signal', async () => {
      let seen: ToolContext | undefined;
      let abortedDuringCall: boolean | undefined;
      const processor = processorFor((_args, ctx) => {
        seen = ctx;
        abortedDuringCall = ctx.signal.aborted;
        return 'ok';
      });

      await processor(job({ name: 'probe', toolCallId: 'call_abc', taskId: 'task-42' }, { attemptsStarted: 2, attemptsMade: 1, attempts: 3 }));

      expect(seen).toMatchObject({ toolCallId: 'call_abc', taskId: 'task-42', attempt: 2, workerId: WORKER_ID });
      expect(seen?.signal).toBeInstanceOf(AbortSignal);
      expect(abortedDuringCall).toBe(false);
    });
  });

  describe('when the tool throws', () => {
    it('turns a plain Error into tool_error with its message', async () => {
      const result = await processorFor(() => {
        throw new Error('upstream said no');
      })(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: false, error: { code: 'tool_error', message: 'upstream said no' }, attempts: 1 });
    });

    it('turns a thrown non-Error into tool_error with its text', async () => {
      const result = await processorFor(() => Promise.reject('just a string'))(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: false, error: { code: 'tool_error', message: 'just a string' } });
    });

    it('uses the code of a ToolError', async () => {
      const result = await processorFor(() => {
        throw new ToolError('no such city', { code: 'city_not_found' });
      })(job({ name: 'probe' }));

      expect(result).toMatchObject({ ok: false, error: { code: 'city_not_found', message: 'no such city' } });
    });

    it('does not retry a ToolError that is not retryable, even with attempts left', async () => {
      const result = await processorFor(() => {
        throw new ToolError('bad input');
      })(job({ name: 'probe' }, { attempts: 3 }));

      expect(result).toMatchObject({ ok: false, error: { code: 'tool_error', message: 'bad input' } });
    });

    it('throws RetryableToolFailure for a retryable ToolError with attempts left', async () => {
      const processor = processorFor(() => {
        throw new ToolError('rate limited', { code: 'rate_limited', retryable: true });
      });

      await expect(processor(job({ name: 'probe' }, { attemptsStarted: 2, attemptsMade: 1, attempts: 3 }))).rejects.toSatisfy(
        (error) => error instanceof RetryableToolFailure && error.message === 'rate limited',
      );
    });

    it('returns the error as a value for a retryable ToolError on the last attempt', async () => {
      const processor = processorFor(() => {
        throw new ToolError('rate limited', { code: 'rate_limited', retryable: true });
      });

      const result = await processor(job({ name: 'probe' }, { attemptsStarted: 3, attemptsMade: 2, attempts: 3 }));

      expect(result).toMatchObject({ ok: false, error: { code: 'rate_limited', message: 'rate limited' }, attempts: 3 });
    });
  });

  describe('when the tool outlives its timeout', () => {
    it('answers tool_timeout at the deadline even if the tool ignores its signal, and aborts the signal', async () => {
      let signal: AbortSignal | undefined;
      const processor = processorFor(
        (_args, ctx) => {
          signal = ctx.signal;
          return new Promise(() => {});
        },
        { timeoutMs: 50 },
      );
      const startedAt = Date.now();

      const result = await processor(job({ name: 'probe' }));

      const elapsed = Date.now() - startedAt;
      expect(result).toMatchObject({
        ok: false,
        error: { code: 'tool_timeout', message: 'the tool did not finish within 50 ms' },
      });
      expect(elapsed).toBeGreaterThanOrEqual(45);
      expect(elapsed).toBeLessThan(1000);
      expect(signal?.aborted).toBe(true);
    });

    it('stops at the job deadline when it comes before the tool timeout', async () => {
      const processor = processorFor(() => new Promise(() => {}));
      const startedAt = Date.now();

      const result = await processor(job({ name: 'probe', deadline: Date.now() + 50 }));

      expect(result).toMatchObject({ ok: false, error: { code: 'tool_timeout' } });
      expect(Date.now() - startedAt).toBeLessThan(1000);
    });
  });

  describe('when the deadline has already passed', () => {
    it('answers tool_timeout without running the tool', async () => {
      let ran = false;
      const processor = processorFor(() => {
        ran = true;
        return 'ran';
      });

      const result = await processor(job({ name: 'probe', deadline: Date.now() - 1 }));

      expect(result).toMatchObject({
        ok: false,
        error: { code: 'tool_timeout', message: 'the call reached its deadline before it started' },
      });
      expect(ran).toBe(false);
    });
  });

  describe('when the job signal aborts', () => {
    it('answers cancelled', async () => {
      const controller = new AbortController();
      const processor = processorFor(() => {
        setTimeout(() => controller.abort(), 10);
        return new Promise(() => {});
      });

      const result = await processor(job({ name: 'probe' }), 'token', controller.signal);

      expect(result).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    });

    it('answers cancelled at once, without running the tool, when the signal was aborted before the call started', async () => {
      let ran = false;
      const processor = processorFor(
        () => {
          ran = true;
          return new Promise(() => {});
        },
        { timeoutMs: 2000 },
      );
      const startedAt = Date.now();

      const result = await processor(job({ name: 'probe' }), 'token', AbortSignal.abort());

      expect(result).toMatchObject({ ok: false, error: { code: 'cancelled' } });
      expect(Date.now() - startedAt).toBeLessThan(1000);
      expect(ran).toBe(false);
    });
  });

  describe('when the call cannot be run', () => {
    it('answers unknown_tool for a name the worker does not have', async () => {
      const result = await processorFor(() => 'ran')(job({ name: 'get_wether' }));

      expect(result).toMatchObject({
        ok: false,
        error: { code: 'unknown_tool', message: 'no tool named "get_wether" on this worker' },
        tool_call_id: 'call_1',
      });
    });

    it.each(['__proto__', 'constructor'])('answers unknown_tool for %s', async (name) => {
      const result = await processorFor(() => 'ran')(job({ name }));

      expect(result).toMatchObject({ ok: false, error: { code: 'unknown_tool' } });
    });

    it.each([
      ['invalid JSON', '{"text":', 'invalid_arguments_json'],
      ['a non-object', '["hi"]', 'arguments_not_object'],
      ['too deep nesting', `{"a":${'['.repeat(20)}${']'.repeat(20)}}`, 'arguments_too_deep'],
      ['a schema violation', '{"text":42}', 'arguments_schema_violation'],
    ])('answers %s without running the tool', async (_kind, args, code) => {
      let ran = false;
      const result = await processorFor(() => {
        ran = true;
      })(job({ name: 'probe', arguments: args }));

      expect(result).toMatchObject({ ok: false, error: { code } });
      expect(ran).toBe(false);
    });

    it('answers invalid_request for malformed job data, keeping the call id', async () => {
      const malformed = {
        id: 'fan-1-c0',
        data: { toolCallId: 'call_1', name: 'probe' },
        attemptsStarted: 1,
        attemptsMade: 0,
        opts: { attempts: 1 },
      };

      const result = await processorFor(() => 'ran')(malformed as unknown as Job);

      expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request' }, tool_call_id: 'call_1' });
    });
  });

  describe('when zod parameters transform the arguments', () => {
    it('runs the tool with the parsed value', async () => {
      const tool = defineTool({
        name: 'count',
        description: 'test',
        parameters: z.object({ n: z.number().default(7) }),
        execute: ({ n }) => n * 2,
      });
      const processor = createToolCallProcessor({
        tools: createToolSet([{ tool, source: 'test' }]),
        workerId: WORKER_ID,
        defaultTimeoutMs: 5000,
        maxArgumentDepth: 8,
        maxResultBytes: MAX_RESULT_BYTES,
        logger,
      });

      expect(await processor(job({ name: 'count' }))).toMatchObject({ ok: true, content: '14' });
    });
  });
});
