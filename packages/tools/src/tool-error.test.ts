import { describe, expect, it } from 'vitest';
import { ToolError } from './tool-error.ts';

describe('ToolError', () => {
  describe('when constructed without options', () => {
    it('defaults to the tool_error code and not retryable', () => {
      const error = new ToolError('upstream said no');

      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ name: 'ToolError', message: 'upstream said no', code: 'tool_error', retryable: false });
      expect(error.cause).toBeUndefined();
    });
  });

  describe('when constructed with options', () => {
    it('keeps the code, retryable flag and cause', () => {
      const cause = new Error('ECONNRESET');

      expect(new ToolError('try later', { code: 'rate_limited', retryable: true, cause })).toMatchObject({
        code: 'rate_limited',
        retryable: true,
        cause,
      });
    });
  });

  describe('when checking with isInstance', () => {
    it('recognises its own instances and branded objects from another copy', () => {
      const fromOtherCopy = { [Symbol.for('volley.tool-error')]: true, code: 'c', retryable: true, message: 'm' };

      expect(ToolError.isInstance(new ToolError('x'))).toBe(true);
      expect(ToolError.isInstance(fromOtherCopy)).toBe(true);
    });

    it('rejects plain errors and objects with a look-alike local symbol', () => {
      expect(ToolError.isInstance(new Error('x'))).toBe(false);
      expect(ToolError.isInstance({ [Symbol('volley.tool-error')]: true })).toBe(false);
    });
  });
});
