import { describe, expect, it } from 'vitest';
import { failedResult, type ToolCallResult } from './queue/tool-call-job.ts';
import { toToolMessage } from './tool-message.ts';

const timing = { tool_call_id: 'call_1', started_at: 1, finished_at: 2, worker_id: 'w1', attempts: 1 };

function errorContent(code: string, message = 'it went wrong') {
  const toolMessage = toToolMessage({ ok: false, error: { code, message }, ...timing });
  return JSON.parse(toolMessage.content) as { error: { code: string; message: string; hint: string } };
}

describe('toToolMessage', () => {
  describe('when the call succeeded', () => {
    it('uses the content as is', () => {
      const result: ToolCallResult = { ok: true, content: '{"temp":21}', ...timing };

      expect(toToolMessage(result)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' });
    });

    it('keeps empty content', () => {
      expect(toToolMessage({ ok: true, content: '', ...timing }).content).toBe('');
    });
  });

  describe('when the call failed', () => {
    it('gives JSON with the code, the message and a hint, and nothing else', () => {
      const message = toToolMessage(failedResult('call_9', { code: 'tool_error', message: 'upstream said no' }));

      expect(message.role).toBe('tool');
      expect(message.tool_call_id).toBe('call_9');
      expect(JSON.parse(message.content)).toEqual({
        error: { code: 'tool_error', message: 'upstream said no', hint: 'The tool failed.' },
      });
    });

    it.each(['invalid_arguments_json', 'arguments_not_object', 'arguments_schema_violation', 'arguments_too_deep', 'arguments_too_large'])(
      'asks the model to fix its arguments after %s',
      (code) => {
        expect(errorContent(code).error.hint).toBe('The call was not run. Fix the arguments to match the tool schema and call it again.');
      },
    );

    it('asks the model to call only its tools after unknown_tool', () => {
      expect(errorContent('unknown_tool').error.hint).toBe('The call was not run. Call only the tools you were given, spelled exactly.');
    });

    it('says the tool ran out of time after tool_timeout', () => {
      expect(errorContent('tool_timeout').error.hint).toBe('The tool did not finish in time.');
    });

    it('says the tool ran and to ask for less after result_too_large', () => {
      expect(errorContent('result_too_large').error.hint).toBe(
        'The tool ran, but its result was too large to keep. Ask for less: narrow the request, or fetch the result in parts.',
      );
    });

    it('says a call may have taken effect and may work again after mcp_server_unavailable', () => {
      expect(errorContent('mcp_server_unavailable').error.hint).toBe(
        'The server behind this tool was down; the call may or may not have taken effect. Calling it again may work.',
      );
    });

    it("gives the generic hint for a tool's own code", () => {
      expect(errorContent('city_not_found').error).toEqual({
        code: 'city_not_found',
        message: 'it went wrong',
        hint: 'The tool failed.',
      });
    });

    it('keeps quotes and newlines in the message intact', () => {
      expect(errorContent('tool_error', 'said "no"\nthen left').error.message).toBe('said "no"\nthen left');
    });
  });
});
