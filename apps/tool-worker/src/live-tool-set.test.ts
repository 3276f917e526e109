import { describe, expect, it } from 'vitest';
import { LiveToolSet } from './live-tool-set.ts';
import type { ToolSource } from './tool-set.ts';

const tool = (name: string, description = name): ToolSource => ({
  tool: { name, description, parameters: { type: 'object' }, execute: () => name },
  source: `test:${name}`,
});

describe('LiveToolSet', () => {
  describe('when the changing sources list other tools', () => {
    it('serves the new set from the same map, and says it changed', () => {
      let changing = [tool('mcp__a')];
      const live = new LiveToolSet([tool('fixed')], () => changing);
      const map = live.tools;
      expect([...map.keys()]).toEqual(['fixed', 'mcp__a']);
      changing = [tool('mcp__b', 'new')];
      expect(live.rebuild()).toBe(true);
      expect(live.tools).toBe(map);
      expect([...map.keys()]).toEqual(['fixed', 'mcp__b']);
      expect(live.published().map((published) => published.function.description)).toEqual(['fixed', 'new']);
    });
  });

  describe('when they list the same tools again', () => {
    it('says nothing changed', () => {
      const live = new LiveToolSet([tool('fixed')], () => [tool('mcp__a')]);
      expect(live.rebuild()).toBe(false);
    });
  });

  describe('when a changed tool takes a name already served', () => {
    it('throws and keeps serving the previous set', () => {
      let changing = [tool('mcp__a')];
      const live = new LiveToolSet([tool('fixed')], () => changing);
      changing = [tool('fixed')];
      expect(() => live.rebuild()).toThrow('duplicate tool name "fixed"');
      expect([...live.tools.keys()]).toEqual(['fixed', 'mcp__a']);
    });
  });

  describe('when the first set does not fit', () => {
    it('throws at construction', () => {
      expect(() => new LiveToolSet([tool('same'), tool('same')])).toThrow('duplicate tool name "same" (test:same has it too)');
    });
  });
});
