/** One Server-Sent Event as a client sees it. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export interface SseRead {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Comment lines (without the leading ':'), e.g. heartbeats. */
  comments: string[];
  /** The stream ended by itself (not aborted by `until` or the signal). */
  ended: boolean;
  /** The error body, when the answer was not a stream. */
  body?: unknown;
}

/**
 * Reads an SSE stream with fetch, parsing it by hand (the WHATWG rules the tests need: `id`,
 * `event`, `data` lines, blank line dispatch, `:` comments). Stops when the server ends the
 * stream, or drops the connection as soon as `until` says so for an event just read. A GET,
 * unless `post` gives a JSON body to POST.
 */
export async function readSse(
  url: string,
  options: { headers?: Record<string, string>; post?: unknown; until?: (event: SseEvent, all: SseEvent[]) => boolean; timeoutMs?: number } = {},
): Promise<SseRead> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no end of ${url} within ${options.timeoutMs ?? 20_000} ms`)), options.timeoutMs ?? 20_000);
  const post = options.post === undefined ? {} : { method: 'POST', body: JSON.stringify(options.post) };
  const headers = { accept: 'text/event-stream', ...(options.post === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
  const response = await fetch(url, { ...post, headers, signal: controller.signal });
  let stopped = false;
  const read: SseRead = { status: response.status, headers: response.headers, events: [], comments: [], ended: false };
  try {
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const text = await response.text();
      read.body = text ? JSON.parse(text) : undefined;
      return read;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    let current: { id?: string; event?: string; data: string[] } = { data: [] };
    const reader = response.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        read.ended = true;
        return read;
      }
      buffer += decoder.decode(value, { stream: true });
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (current.data.length > 0 || current.event !== undefined) {
            const event = { id: current.id, event: current.event ?? 'message', data: current.data.join('\n') };
            read.events.push(event);
            if (options.until?.(event, read.events)) {
              stopped = true;
              controller.abort();
              return read;
            }
          }
          current = { data: [] };
        } else if (line.startsWith(':')) read.comments.push(line.slice(1).trim());
        else {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') current.id = value;
          else if (field === 'event') current.event = value;
          else if (field === 'data') current.data.push(value);
        }
      }
    }
  } catch (error) {
    if (stopped) return read;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Compares stream ids (`ms-seq`) as Redis orders them. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
