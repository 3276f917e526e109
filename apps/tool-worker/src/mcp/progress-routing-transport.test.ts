import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { ProgressRoutingTransport } from './progress-routing-transport.ts';

/** A transport whose incoming messages the test pushes by hand. */
function innerTransport() {
  const sent: JSONRPCMessage[] = [];
  const inner: Transport & { receive(message: JSONRPCMessage): void } = {
    start: async () => undefined,
    close: async () => undefined,
    send: async (message) => void sent.push(message),
    receive(message) {
      this.onmessage?.(message);
    },
  };
  return { inner, sent };
}
/** A routing transport over a hand-fed one, and what reached the SDK side or a call's handler, in order. */
function routed() {
  const { inner, sent } = innerTransport();
  const routing = new ProgressRoutingTransport(inner);
  const seen: unknown[] = [];
  routing.onmessage = (message) => seen.push(message);
  return { inner, sent, routing, seen };
}
const progress = (progressToken: string | number, value: number, extra: Record<string, unknown> = {}): JSONRPCMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken, progress: value, ...extra },
});

describe('ProgressRoutingTransport', () => {
  describe('when a server sends progress for a token it was given, then the result', () => {
    it('delivers every progress before the result reaches the SDK, the last one included', () => {
      const { inner, routing, seen } = routed();
      const tracked = routing.track((value) => seen.push(value));
      inner.receive(progress(tracked.token, 1, { total: 2, message: 'half' }));
      inner.receive(progress(tracked.token, 2, { total: 2 }));
      inner.receive({ jsonrpc: '2.0', id: 7, result: { content: [] } });
      expect(seen).toEqual([
        { progress: 1, total: 2, message: 'half' },
        { progress: 2, total: 2 },
        { jsonrpc: '2.0', id: 7, result: { content: [] } },
      ]);
    });
  });

  describe('when progress comes for a call that has ended', () => {
    it('drops it instead of passing the SDK a token it does not know', () => {
      const { inner, routing, seen } = routed();
      const tracked = routing.track((value) => seen.push(value));
      tracked.stop();
      inner.receive(progress(tracked.token, 3));
      expect(seen).toEqual([]);
    });
  });

  describe('when messages are not progress of its own tokens', () => {
    it('passes them on as they are, and sends, starts, closes and reports through the inner transport', async () => {
      const { inner, sent, routing, seen } = routed();
      const closed: string[] = [];
      routing.onclose = () => closed.push('closed');
      routing.onerror = (error) => closed.push(error.message);
      inner.receive(progress(12, 1));
      inner.receive({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
      expect(seen).toEqual([progress(12, 1), { jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]);
      await routing.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(sent).toEqual([{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
      inner.onerror?.(new Error('pipe broke'));
      inner.onclose?.();
      expect(closed).toEqual(['pipe broke', 'closed']);
    });
  });

  it('hands out a new token for every call', () => {
    const routing = new ProgressRoutingTransport(innerTransport().inner);
    expect(routing.track(() => undefined).token).not.toBe(routing.track(() => undefined).token);
  });
});
