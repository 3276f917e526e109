import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { readSse, type SseMessage } from './sse.js';

describe('readSse', () => {
  it('parses events split anywhere across chunks, CRLF or LF, multi-line data, comments and ids', async () => {
    const text =
      ': stream\n\nid: 1-0\r\nevent: llm.started\r\ndata: {"a":1}\r\n\r\n: heartbeat\n\nid: 2-0\nevent: llm.delta\ndata: line one\ndata: line two\n\n';
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // One byte at a time: every boundary falls inside some line.
      let index = 0;
      const next = () => (index < text.length ? response.write(text[index++], () => setImmediate(next)) : response.end());
      next();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const events: SseMessage[] = [];
      await readSse(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { onEvent: (event) => events.push(event) });
      expect(events).toEqual([
        { id: '1-0', event: 'llm.started', data: '{"a":1}' },
        { id: '2-0', event: 'llm.delta', data: 'line one\nline two' },
      ]);
    } finally {
      server.close();
    }
  });

  it('throws with the status when the stream is refused', async () => {
    const server = createServer((_request, response) => response.writeHead(401).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await expect(readSse(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { onEvent: () => {} })).rejects.toMatchObject({ status: 401 });
    } finally {
      server.close();
    }
  });
});
