import { ANONYMOUS_CALLER } from '../auth/caller.ts';
import type { ToolCatalog } from '../tools/tool-catalog.ts';
import { describe, expect, it } from 'vitest';
import { sortTools } from './sort-tools.ts';

const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string', description: 'City name' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
  required: ['city'],
  additionalProperties: false,
};

/** A catalog that serves `get_weather` (sortTools asks `covering` only). */
const catalog = {
  covering: async () =>
    new Map([
      [
        'get_weather',
        { tool: { type: 'function', function: { name: 'get_weather', parameters: WEATHER }, volley: {} }, pool: 'default', queue: 'tools-default', workers: 1 },
      ],
    ]),
} as unknown as ToolCatalog;

describe('sortTools', () => {
  it('offers the caller’s cluster tools when the request names none', async () => {
    expect(await sortTools(catalog, ANONYMOUS_CALLER, undefined)).toEqual({ server: null, client: [] });
    expect(await sortTools(catalog, ANONYMOUS_CALLER, [])).toEqual({ server: null, client: [] });
  });

  it('tells the cluster’s tools from the client’s by name', async () => {
    const sorted = await sortTools(catalog, ANONYMOUS_CALLER, [{ name: 'get_weather' }, { name: 'mine', description: 'd' }]);
    expect(sorted.server).toEqual(['get_weather']);
    expect(sorted.client).toEqual([{ type: 'function', function: { name: 'mine', description: 'd', parameters: { type: 'object', properties: {} } } }]);
  });

  it('accepts the cluster’s schema in another key order, with other annotations', async () => {
    const same = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      additionalProperties: false,
      required: ['city'],
      properties: { unit: { enum: ['celsius', 'fahrenheit'], type: 'string' }, city: { type: 'string', title: 'City' } },
      type: 'object',
    };
    expect((await sortTools(catalog, ANONYMOUS_CALLER, [{ name: 'get_weather', parameters: same }])).server).toEqual(['get_weather']);
  });

  it('refuses a cluster tool declared to take other arguments', async () => {
    const wider = { ...WEATHER, additionalProperties: true };
    await expect(sortTools(catalog, ANONYMOUS_CALLER, [{ name: 'get_weather', parameters: wider }])).rejects.toMatchObject({
      code: 'tool_definition_mismatch',
    });
    // A field named like an annotation is a field: dropping it changes the arguments.
    const titled = { ...WEATHER, properties: { ...WEATHER.properties, title: { type: 'string' } } };
    await expect(sortTools(catalog, ANONYMOUS_CALLER, [{ name: 'get_weather', parameters: titled }])).rejects.toMatchObject({
      code: 'tool_definition_mismatch',
    });
  });

  it('treats a cluster tool the caller may not use as the client’s own', async () => {
    const sorted = await sortTools(catalog, { tenant: 'acme', tools: new Set(['other']) }, [{ name: 'get_weather', parameters: { type: 'object' } }]);
    expect(sorted).toEqual({ server: [], client: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] });
  });
});
