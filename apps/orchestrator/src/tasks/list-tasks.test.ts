import { describe, expect, it } from 'vitest';
import { listTasksQuerySchema } from './list-tasks.ts';

const parseListTasksQuery = (query: unknown) => listTasksQuerySchema.parse(query);

describe('listTasksQuerySchema', () => {
  describe('when the query is valid', () => {
    it('defaults the limit to 20 with no filters', () => {
      expect(parseListTasksQuery({})).toEqual({ limit: 20, metadata: {} });
    });

    it('keeps a metadata filter named like a prototype key as a filter', () => {
      expect(Object.entries(parseListTasksQuery({ 'metadata.__proto__': 'x' }).metadata)).toEqual([['__proto__', 'x']]);
    });

    it('reads status, limit and every metadata filter', () => {
      expect(parseListTasksQuery({ status: 'completed', limit: '5', 'metadata.team': 'search', 'metadata.run.id': 'r-1' })).toEqual({
        status: 'completed',
        limit: 5,
        metadata: { team: 'search', 'run.id': 'r-1' },
      });
    });
  });

  describe('when the query is not valid', () => {
    it.each([
      ['an unknown status', { status: 'done' }],
      ['a limit of 0', { limit: '0' }],
      ['a limit of 101', { limit: '101' }],
      ['a limit that is not a number', { limit: 'ten' }],
      ['an unknown parameter', { colour: 'red' }],
      ['a __proto__ parameter', JSON.parse('{"__proto__": "x"}')],
      ['a parameter given twice', { status: ['queued', 'running'] }],
      ['a metadata key out of its charset', { 'metadata.a b': 'x' }],
      ['an empty metadata key', { 'metadata.': 'x' }],
      ['a metadata value over 512 characters', { 'metadata.a': 'x'.repeat(513) }],
      ['a cursor that is not one', { cursor: 'not-a-cursor' }],
    ])('refuses %s with a 400', (_what, query) => {
      expect(() => parseListTasksQuery(query)).toThrow();
      try {
        parseListTasksQuery(query);
      } catch (error) {
        expect((error as { status?: number }).status ?? 400).toBe(400);
      }
    });
  });
});
