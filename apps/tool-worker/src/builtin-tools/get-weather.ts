import { setTimeout as delay } from 'node:timers/promises';
import { defineTool } from '@volley/tools';
import { z } from 'zod';

const CONDITIONS = ['sunny', 'cloudy', 'rainy', 'windy', 'foggy', 'snowy'] as const;

/**
 * A made-up forecast (no network here): deterministic per city, so the demo's output is
 * stable, with a short delay that stands in for a weather API's latency.
 */
export const getWeatherTool = defineTool({
  name: 'get_weather',
  description: 'Get the current weather for a city (demo data, not a real forecast).',
  parameters: z.object({
    city: z.string().min(1).describe('City name, e.g. "Paris"'),
    unit: z.enum(['celsius', 'fahrenheit']).default('celsius'),
  }),
  async execute({ city, unit }, { signal }) {
    await delay(250, undefined, { signal });
    const seed = [...city.toLowerCase()].reduce((sum, char) => (sum * 31 + char.charCodeAt(0)) % 10_007, 7);
    const celsius = (seed % 35) - 5;
    const temperature = unit === 'celsius' ? celsius : Math.round((celsius * 9) / 5 + 32);
    return { city, temperature, unit, condition: CONDITIONS[seed % CONDITIONS.length], source: 'demo data' };
  },
});
