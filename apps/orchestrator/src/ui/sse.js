/**
 * Reads a Server-Sent Events stream with fetch(), which, unlike EventSource, can send an
 * Authorization header. Calls onEvent({id, event, data}) for each event and returns the id of
 * the last one, so a caller resumes after it with Last-Event-ID.
 */
export async function readSse(url, { headers, signal, onEvent }) {
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal, cache: 'no-store' });
  if (!response.ok) {
    const error = new Error(`events: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { id: undefined, event: 'message', data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // A '\r' at the end may be half a '\r\n': held back until the next chunk says.
    const held = buffer.endsWith('\r') ? '\r' : '';
    const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
    // The last piece is a line still arriving.
    buffer = lines.pop() + held;
    for (const line of lines) {
      if (line === '') {
        if (event.data.length > 0) onEvent({ id: event.id, event: event.event, data: event.data.join('\n') });
        event = { id: event.id, event: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let text = colon === -1 ? '' : line.slice(colon + 1);
      if (text.startsWith(' ')) text = text.slice(1);
      if (field === 'data') event.data.push(text);
      else if (field === 'event') event.event = text;
      else if (field === 'id') event.id = text;
    }
  }
}
