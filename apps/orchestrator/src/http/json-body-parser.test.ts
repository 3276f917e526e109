import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from './json-body-parser.ts';

const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

describe('nestsDeeperThan', () => {
  describe('when the text nests up to the bound', () => {
    it.each([
      ['a scalar', '42', 0],
      ['an empty object', '{}', 1],
      ['arrays at the bound', nested(128), 128],
      ['objects at the bound', `${'{"a":'.repeat(64)}1${'}'.repeat(64)}`, 64],
      ['siblings, each shallow', `[${Array.from({ length: 1000 }, () => '[[]]').join(',')}]`, 3],
    ])('accepts %s', (_what, text, depth) => {
      expect(nestsDeeperThan(text, depth)).toBe(false);
      expect(JSON.parse(text)).toBeDefined();
    });
  });

  describe('when the text nests deeper', () => {
    it.each([
      ['arrays one past the bound', nested(129), 128],
      ['100,000 levels', nested(100_000), 128],
      ['objects in arrays', `{"m":[{"x":${nested(10)}}]}`, 12],
    ])('refuses %s', (_what, text, depth) => {
      expect(nestsDeeperThan(text, depth)).toBe(true);
    });
  });

  describe('when brackets sit inside strings', () => {
    it.each([
      ['brackets in a string', JSON.stringify({ content: '['.repeat(10_000) }), 1],
      ['an escaped quote before them', JSON.stringify({ content: `say "hi" ${'{'.repeat(500)}` }), 1],
      ['an escaped backslash closing the string', `{"a":"x\\\\","b":"${'['.repeat(500)}"}`, 1],
      ['many escaped quotes', JSON.stringify({ c: '"['.repeat(5_000) }), 1],
    ])('does not count %s', (_what, text, depth) => {
      expect(JSON.parse(text)).toBeDefined();
      expect(nestsDeeperThan(text, depth)).toBe(false);
    });

    it('counts the brackets after a string that ends in an escaped backslash', () => {
      expect(nestsDeeperThan(`["x\\\\", ${nested(3)}]`, 3)).toBe(true);
    });
  });

  describe('when the text is not JSON', () => {
    it('says no for an unterminated string (the parser refuses it)', () => {
      expect(nestsDeeperThan(`["${'['.repeat(100)}`, 2)).toBe(false);
    });
  });
});
