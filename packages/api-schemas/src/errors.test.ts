import { describe, expect, it } from 'vitest';
import { errorBody } from './errors.ts';

describe('errorBody', () => {
  it('wraps a code and message the way HTTP clients read them', () => {
    expect(errorBody('not_found', 'no such task')).toEqual({ error: { code: 'not_found', message: 'no such task' } });
  });
});
