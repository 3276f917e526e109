import { describe, expect, it } from 'vitest';
import { compileResourceTemplate } from './resource-template.ts';

describe('compileResourceTemplate', () => {
  describe('when the template names arguments', () => {
    it('puts their values in as written, nested ones by a dotted name', () => {
      const template = compileResourceTemplate('row:{table}/{key.id}:{live}');
      expect(template.render({ table: 'orders', key: { id: 7 }, live: true })).toBe('row:orders/7:true');
      expect(template.names).toEqual(['table', 'key', 'live']);
    });

    it('is the text itself when it names none', () => {
      expect(compileResourceTemplate('printer').render({})).toBe('printer');
    });
  });

  describe('when an argument is missing or not a scalar', () => {
    it.each([[{}], [{ path: null }], [{ path: ['a'] }], [{ path: { a: 1 } }]])('throws rather than lock "undefined" (%j)', (args) => {
      expect(() => compileResourceTemplate('file:{path}').render(args)).toThrow(/file:\{path\}: the argument path is/);
    });

    it('does not read inherited properties', () => {
      expect(() => compileResourceTemplate('x:{constructor}').render({})).toThrow(/missing/);
    });
  });

  describe('when the template is malformed', () => {
    it.each(['file:{', 'file:}', 'file:{}', 'file:{a b}', 'file:{{path}}'])('refuses %s', (text) => {
      expect(() => compileResourceTemplate(text)).toThrow();
    });
  });
});
