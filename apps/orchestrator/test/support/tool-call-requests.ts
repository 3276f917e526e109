import type { ToolCallsRequest } from '@volley/client';

/**
 * A `fetch` for a `VolleyClient` that passes every request through unchanged and keeps the body
 * of each `POST /v1/tool-calls`: a test sees how many fan-outs an adapter made, and with which calls.
 */
export function recordToolCallRequests(): { fetch: typeof fetch; requests: ToolCallsRequest[] } {
  const requests: ToolCallsRequest[] = [];
  const recording: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname.endsWith('/v1/tool-calls') && typeof init?.body === 'string') requests.push(JSON.parse(init.body) as ToolCallsRequest);
    return fetch(input, init);
  };
  return { fetch: recording, requests };
}

/** The tool call ids of each recorded fan-out, in the order the message held them. */
export const idsPerFanOut = (requests: ToolCallsRequest[]) => requests.map((request) => (request.message.tool_calls ?? []).map((call) => call.id));
