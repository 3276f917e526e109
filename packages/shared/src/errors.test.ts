import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, errorBody, ToolError, VolleyError } from './errors.ts';

describe('VolleyError', () => {
  describe('when constructed', () => {
    it('carries its code, message, name and cause', () => {
      const cause = new Error('root');
      const error = new VolleyError('not_found', 'no such task', { cause });

      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ code: 'not_found', message: 'no such task', name: 'VolleyError', cause });
    });

    it.each(Object.entries(ERROR_STATUS))('gives %s the status %i', (code, status) => {
      expect(new VolleyError(code as keyof typeof ERROR_STATUS, 'x').status).toBe(status);
    });
  });

  describe('when checking with isInstance', () => {
    it('recognises its own instances', () => {
      expect(VolleyError.isInstance(new VolleyError('internal_error', 'x'))).toBe(true);
    });

    it('recognises a structurally separate object carrying the shared brand, as a duplicate package copy would make', () => {
      const fromOtherCopy = Object.assign(new Error('from another copy'), {
        [Symbol.for('volley.error')]: true,
        code: 'not_found',
      });

      expect(fromOtherCopy instanceof VolleyError).toBe(false);
      expect(VolleyError.isInstance(fromOtherCopy)).toBe(true);
    });

    it.each([
      ['a plain Error', new Error('x')],
      ['a ToolError', new ToolError('x')],
      ['an object with a look-alike local symbol', { [Symbol('volley.error')]: true }],
      ['an object with a string key of the same name', { 'volley.error': true }],
      ['null', null],
      ['undefined', undefined],
      ['a string', 'volley.error'],
    ])('rejects %s', (_kind, value) => {
      expect(VolleyError.isInstance(value)).toBe(false);
    });
  });
});

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

    it('rejects plain errors and VolleyErrors', () => {
      expect(ToolError.isInstance(new Error('x'))).toBe(false);
      expect(ToolError.isInstance(new VolleyError('tool_error', 'x'))).toBe(false);
    });
  });
});

describe('errorBody', () => {
  it('wraps a code and message the way HTTP clients read them', () => {
    expect(errorBody('not_found', 'no such task')).toEqual({ error: { code: 'not_found', message: 'no such task' } });
  });
});
