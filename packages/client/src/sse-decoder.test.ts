import { describe, expect, it } from 'vitest';
import { SseDecoder, type SseMessage } from './sse-decoder.ts';

/** Every way to cut `text` into two chunks, each fed in turn: the events must not depend on where a chunk ends. */
function everySplit(text: string): SseMessage[][] {
  return Array.from({ length: text.length + 1 }, (_, at) => {
    const decoder = new SseDecoder();
    return [...decoder.push(text.slice(0, at)), ...decoder.push(text.slice(at))];
  });
}

describe('SseDecoder', () => {
  describe('when a stream of Volley task events arrives', () => {
    const stream =
      ': stream of task events\n\n' +
      'id: 1764628800123-0\nevent: llm.started\ndata: {"turn":0}\n\n' +
      ': heartbeat\n\n' +
      'id: 1764628800124-0\nevent: task.finished\ndata: {"turn":null}\n\n';

    it('gives each event with its id, name and data, skipping comments, wherever the chunks are cut', () => {
      const expected = [
        { id: '1764628800123-0', event: 'llm.started', data: '{"turn":0}' },
        { id: '1764628800124-0', event: 'task.finished', data: '{"turn":null}' },
      ];
      for (const events of everySplit(stream)) expect(events).toEqual(expected);
    });
  });

  describe('when lines end in CRLF, CR or LF', () => {
    it('reads them alike, a CRLF cut between its CR and LF included', () => {
      const stream = 'id: a\r\ndata: one\r\n\r\nid: b\rdata: two\r\rid: c\ndata: three\n\n';
      const expected = [
        { id: 'a', event: 'message', data: 'one' },
        { id: 'b', event: 'message', data: 'two' },
        { id: 'c', event: 'message', data: 'three' },
      ];
      for (const events of everySplit(stream)) expect(events).toEqual(expected);
    });
  });

  describe('when an event spreads its data over several lines', () => {
    it('joins them with newlines, and takes one leading space off each value only', () => {
      const decoder = new SseDecoder();
      expect(decoder.push('data:first\ndata:  second\ndata\n\n')).toEqual([{ id: undefined, event: 'message', data: 'first\n second\n' }]);
    });
  });

  describe('when ids come and go', () => {
    it('keeps the last id for later events without one, and ignores an id holding NUL', () => {
      const decoder = new SseDecoder();
      expect(decoder.push('id: 7-0\ndata: a\n\ndata: b\n\nid: 8\0\ndata: c\n\n').map((e) => e.id)).toEqual(['7-0', '7-0', '7-0']);
    });
  });

  describe('when a block holds no data', () => {
    it('dispatches nothing, but an id in it still counts', () => {
      const decoder = new SseDecoder();
      expect(decoder.push('id: 9-0\nevent: x\n\ndata: after\n\n')).toEqual([{ id: '9-0', event: 'message', data: 'after' }]);
    });
  });

  describe('when the server sends retry', () => {
    it('keeps a number of milliseconds, and ignores anything else', () => {
      const decoder = new SseDecoder();
      decoder.push('retry: 1500\n\n');
      decoder.push('retry: soon\n\n');
      expect(decoder.retryMs).toBe(1500);
    });
  });

  describe('when the stream stops inside an event', () => {
    it('holds the unfinished event back: it was cut short, and the server sends it again on resume', () => {
      const decoder = new SseDecoder();
      expect(decoder.push('id: 1-0\ndata: whole\n\nid: 2-0\ndata: {"cut":')).toEqual([{ id: '1-0', event: 'message', data: 'whole' }]);
    });
  });
});
