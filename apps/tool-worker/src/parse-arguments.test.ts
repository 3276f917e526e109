import { describe, expect, it } from 'vitest';
import { parseArguments } from './parse-arguments.ts';

const MAX_DEPTH = 64;

function errorCode(text: string, maxDepth = MAX_DEPTH): string | undefined {
  const parsed = parseArguments(text, maxDepth);
  return parsed.ok ? undefined : parsed.error.code;
}

/** `{"a":` + depth-1 nested arrays: an object whose nesting is exactly `depth` levels. */
function nested(depth: number): string {
  return `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
}

describe('parseArguments', () => {
  describe('when the text is a JSON object', () => {
    it('returns the object', () => {
      expect(parseArguments('{"city":"Paris","days":3,"tags":["a"]}', MAX_DEPTH)).toEqual({
        ok: true,
        value: { city: 'Paris', days: 3, tags: ['a'] },
      });
    });

    it('accepts an empty object', () => {
      expect(parseArguments('{}', MAX_DEPTH)).toEqual({ ok: true, value: {} });
    });
  });

  describe('when the text is not valid JSON', () => {
    it.each([
      ['truncated', '{"city":"Par'],
      ['Python-dict quotes', "{'city': 'Paris'}"],
      ['an empty string', ''],
      ['a trailing comma', '{"city":"Paris",}'],
      ['NaN', '{"n":NaN}'],
      ['two concatenated objects', '{"a":1}{"b":2}'],
      ['a raw control character in a string', '{"text":"line one\nline two"}'],
    ])('rejects %s as invalid_arguments_json', (_kind, text) => {
      const parsed = parseArguments(text, MAX_DEPTH);

      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.error.code).toBe('invalid_arguments_json');
      expect(parsed.error.message).toMatch(/^arguments are not valid JSON: \S/);
    });
  });

  describe('when the JSON is not an object', () => {
    it.each([
      ['an array', '[{"city":"Paris"}]', 'an array'],
      ['null', 'null', 'null'],
      ['a number', '42', 'a number'],
      ['a double-encoded object', JSON.stringify('{"city":"Paris"}'), 'a string'],
      ['a boolean', 'true', 'a boolean'],
    ])('rejects %s as arguments_not_object', (_kind, text, described) => {
      expect(parseArguments(text, MAX_DEPTH)).toEqual({
        ok: false,
        error: { code: 'arguments_not_object', message: `arguments must be a JSON object, got ${described}` },
      });
    });
  });

  describe('when the arguments nest deeply', () => {
    it('rejects 10000 nested arrays as arguments_too_deep without overflowing the stack', () => {
      const parsed = parseArguments(nested(10_000), MAX_DEPTH);

      expect(parsed).toEqual({
        ok: false,
        error: { code: 'arguments_too_deep', message: `arguments nest deeper than ${MAX_DEPTH} levels` },
      });
    });

    it('accepts nesting exactly at the limit', () => {
      expect(errorCode(nested(MAX_DEPTH))).toBeUndefined();
    });

    it('rejects nesting one level past the limit', () => {
      expect(errorCode(nested(MAX_DEPTH + 1))).toBe('arguments_too_deep');
    });

    it('counts nested objects as well as arrays', () => {
      expect(errorCode('{"a":{"b":{"c":1}}}', 3)).toBeUndefined();
      expect(errorCode('{"a":{"b":{"c":{}}}}', 3)).toBe('arguments_too_deep');
    });

    it('does not count scalar leaves as a level', () => {
      expect(errorCode('{"a":"x","b":1,"c":null}', 1)).toBeUndefined();
    });
  });

  describe('when the object has a __proto__ key', () => {
    it('keeps it as an own property and leaves Object.prototype alone', () => {
      const parsed = parseArguments('{"__proto__":{"polluted":true},"city":"Paris"}', MAX_DEPTH);

      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      expect(Object.hasOwn(parsed.value, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(parsed.value)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(parsed.value, '__proto__')?.value).toEqual({ polluted: true });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect('polluted' in Object.prototype).toBe(false);
    });

    it('still checks the depth of what it holds', () => {
      expect(errorCode('{"__proto__":{"a":{"b":{}}}}', 3)).toBe('arguments_too_deep');
    });
  });
});
