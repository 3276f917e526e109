/** One dispatched Server-Sent Event. */
export interface SseMessage {
  /** The last event id seen on the stream so far (the spec's "last event ID buffer"). */
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * An incremental parser of `text/event-stream` (WHATWG HTML, "Parsing an event stream"): feed it
 * decoded text as it arrives, in chunks cut anywhere, and take the events each chunk completes.
 * Lines end in CRLF, LF or CR; a CR at the very end of a chunk may be the first half of a CRLF,
 * so it waits for the next chunk. An event still open when the stream ends is dropped, as the
 * spec says (it may be cut short).
 */
export class SseDecoder {
  /** The reconnection time the stream asked for with `retry:`, if it did. */
  retryMs: number | undefined;
  private lastEventId: string | undefined;
  private rest = '';
  private data: string[] = [];
  private event = '';

  push(text: string): SseMessage[] {
    this.rest += text;
    const messages: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const lf = this.rest.indexOf('\n', start);
      const cr = this.rest.indexOf('\r', start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      if (end === cr && cr === this.rest.length - 1) break;
      const line = this.rest.slice(start, end);
      start = end + (end === cr && this.rest[cr + 1] === '\n' ? 2 : 1);
      const message = this.line(line);
      if (message) messages.push(message);
    }
    this.rest = this.rest.slice(start);
    return messages;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const raw = colon === -1 ? '' : line.slice(colon + 1);
    const value = raw.startsWith(' ') ? raw.slice(1) : raw;
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const data = this.data;
    const event = this.event || 'message';
    this.data = [];
    this.event = '';
    if (data.length === 0) return undefined;
    return { id: this.lastEventId, event, data: data.join('\n') };
  }
}
