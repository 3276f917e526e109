/** Types of `sse.js` (plain JS, served as is to the browser), for its tests. */
export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}
export function readSse(url: string, options: { headers?: Record<string, string>; signal?: AbortSignal; onEvent: (event: SseMessage) => void }): Promise<void>;
