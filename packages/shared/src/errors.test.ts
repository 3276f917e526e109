import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '@volley/api-schemas';
import { ToolError } from '@volley/tools';
import { VolleyError } from './errors.ts';

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
