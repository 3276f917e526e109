import type { Redis } from 'ioredis';
import type { Tool } from '@volley/tools';
import { echoTool } from './echo.ts';
import { getTimeTool } from './get-time.ts';
import { getWeatherTool } from './get-weather.ts';
import { createLedger, ledgerTools } from './ledger.ts';
import { sleepTool } from './sleep.ts';

/** The tools every worker ships for the demo (turn off with VOLLEY_BUILTIN_TOOLS=false). */
export function builtinTools(deps: { redis: Redis; prefix: string }): Tool[] {
  return [getWeatherTool, getTimeTool, sleepTool, echoTool, ...ledgerTools(createLedger(deps))];
}
