import { defineTool, type Tool } from '@volley/tools';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createToolSet, ToolDefinitionError, type ToolSource } from './tool-set.ts';

const weather = defineTool({
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: z.object({ city: z.string() }),
  execute: ({ city }) => `sunny in ${city}`,
});

const echo = defineTool({
  name: 'echo',
  description: 'Echoes its text',
  parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  execute: (args) => args.text,
});

function source(tool: unknown, from = 'tools/example.ts#default'): ToolSource {
  return { tool, source: from };
}

function definitionError(sources: ToolSource[]): ToolDefinitionError {
  try {
    createToolSet(sources);
  } catch (error) {
    expect(error).toBeInstanceOf(ToolDefinitionError);
    return error as ToolDefinitionError;
  }
  throw new Error('expected createToolSet to throw');
}

describe('createToolSet', () => {
  describe('when every tool is well formed', () => {
    it('finds each tool by name with a working validator', () => {
      const tools = createToolSet([source(weather), source(echo)]);

      expect([...tools.keys()]).toEqual(['get_weather', 'echo']);
      expect(tools.get('get_weather')?.tool).toBe(weather);
      expect(tools.get('get_weather')?.validate({ city: 'Paris' })).toEqual({ ok: true, value: { city: 'Paris' } });
      expect(tools.get('echo')?.validate({}).ok).toBe(false);
    });

    it('accepts an empty list', () => {
      expect(createToolSet([]).size).toBe(0);
    });
  });

  describe('when a tool has a bad shape', () => {
    it.each([
      ['a name with a space', { ...echo, name: 'get weather' }, 'tool names match'],
      ['a name with a dot', { ...echo, name: 'weather.get' }, 'tool names match'],
      ['an empty name', { ...echo, name: '' }, 'tool names match'],
      ['a 65-character name', { ...echo, name: 'a'.repeat(65) }, 'tool names match'],
      ['no execute', { ...echo, execute: undefined }, 'execute must be a function'],
      ['string parameters', { ...echo, parameters: 'object' }, 'parameters must be a zod schema or a JSON Schema object'],
      ['array parameters', { ...echo, parameters: [] }, 'parameters must be a zod schema or a JSON Schema object'],
      ['null parameters', { ...echo, parameters: null }, 'parameters must be a zod schema or a JSON Schema object'],
      ['a negative timeout', { ...echo, timeoutMs: -1 }, 'timeoutMs'],
      ['fractional retries', { ...echo, retries: 1.5 }, 'retries'],
    ])('rejects %s, naming the source', (_kind, tool, problem) => {
      const error = definitionError([source(echo, 'builtin:echo'), source(tool, 'my-tools.ts#broken')]);

      expect(error.message).toMatch(/^my-tools\.ts#broken: invalid tool: /);
      expect(error.message).toContain(problem);
    });

    it('rejects something that is not an object at all', () => {
      expect(definitionError([source(null, 'my-tools.ts#nothing')]).message).toMatch(/^my-tools\.ts#nothing: invalid tool: /);
    });
  });

  describe('when the JSON Schema parameters cannot be compiled', () => {
    it('rejects the tool, naming the source and the tool', () => {
      const error = definitionError([source({ ...echo, parameters: { type: 'not-a-type' } }, 'my-tools.ts#echo')]);

      expect(error.message).toMatch(/^my-tools\.ts#echo: tool "echo" has unusable parameters: /);
    });
  });

  describe('when two tools share a name', () => {
    it('rejects the second, naming both sources', () => {
      const error = definitionError([source(echo, 'builtin:echo'), source({ ...echo }, 'my-tools.ts#echo')]);

      expect(error.message).toBe('my-tools.ts#echo: duplicate tool name "echo" (builtin:echo has it too)');
    });
  });

  describe('when looked up by an inherited property name', () => {
    it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('finds nothing for %s', (name) => {
      expect(createToolSet([source(echo)]).get(name)).toBeUndefined();
    });
  });

  describe('when publishing a tool', () => {
    it('gives an OpenAI function tool with the volley defaults', () => {
      const published = createToolSet([source(echo)]).get('echo')?.published;

      expect(published).toEqual({
        type: 'function',
        function: { name: 'echo', description: 'Echoes its text', parameters: echo.parameters },
        volley: { sideEffects: false, locks: false, retries: 0 },
      });
      expect(published?.volley).not.toHaveProperty('timeoutMs');
    });

    it('turns zod parameters into a JSON Schema object', () => {
      const published = createToolSet([source(weather)]).get('get_weather')?.published;

      expect(published?.function.parameters).toMatchObject({
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
      });
    });

    it('carries the side effects, timeout and retries the tool declares', () => {
      const tool: Tool = { ...echo, sideEffects: true, timeoutMs: 5000, retries: 2 };

      expect(createToolSet([source(tool)]).get('echo')?.published.volley).toEqual({
        sideEffects: true,
        locks: true,
        timeoutMs: 5000,
        retries: 2,
      });
    });

    it('says calls take locks when the tool declares resources, even without side effects', () => {
      const tool: Tool = { ...echo, resources: () => [{ key: 'doc:1', mode: 'read' as const }] };

      expect(createToolSet([source(tool)]).get('echo')?.published.volley).toMatchObject({ sideEffects: false, locks: true });
    });
  });
});
