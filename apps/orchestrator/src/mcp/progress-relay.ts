import type { ProgressToken } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { followFanOutEvents, type FanOutEventsDeps, type FanOutEventsFollower } from '../events/follow-fan-out-events.ts';
import { toProgressParams, type ProgressParams } from './progress-notification.ts';

const progressEventSchema = z.looseObject({ value: z.unknown() });

/**
 * Relays a fan-out's `tool_call.progress` events to an MCP request as progress notifications
 * while it runs (see `followFanOutEvents`); `finish` forwards the last ones, which the host must
 * see before the result.
 */
export function relayProgress(
  deps: FanOutEventsDeps,
  fanOutId: string,
  progressToken: ProgressToken,
  send: (params: ProgressParams) => Promise<void>,
): FanOutEventsFollower {
  let progress = 0;
  return followFanOutEvents(deps, fanOutId, async (entry) => {
    if (entry.event !== 'tool_call.progress') return;
    const event = progressEventSchema.safeParse(parseJson(entry.data));
    if (!event.success) return;
    const params = toProgressParams(progressToken, event.data.value, progress);
    progress = params.progress;
    // A host that went away cannot be told; its call is being cancelled meanwhile.
    await send(params).catch((error: unknown) => deps.logger.debug({ err: error, fanOut: fanOutId }, 'progress not sent'));
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
