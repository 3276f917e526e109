import { describe, expect, it } from 'vitest';
import { mcpFanOutId, newSessionId, sessionIdOf } from './mcp-session.ts';

describe('mcpFanOutId', () => {
  describe('when the host echoes a session id', () => {
    it('names the same call the same way on every instance, and no other call so', () => {
      const session = newSessionId();
      const id = mcpFanOutId('acme', session, 7);
      expect(mcpFanOutId('acme', session, 7)).toBe(id);
      expect(id).toMatch(/^mcp-[0-9a-f]{32}$/);
      expect(mcpFanOutId('acme', session, 8)).not.toBe(id);
      expect(mcpFanOutId('acme', session, '7')).not.toBe(id);
      expect(mcpFanOutId('globex', session, 7)).not.toBe(id);
      expect(mcpFanOutId(null, session, 7)).not.toBe(id);
      expect(mcpFanOutId('acme', newSessionId(), 7)).not.toBe(id);
    });
  });

  describe('when there is no session', () => {
    it('is new every time: nothing could name the call later', () => {
      expect(mcpFanOutId('acme', undefined, 7)).not.toBe(mcpFanOutId('acme', undefined, 7));
    });
  });
});

describe('sessionIdOf', () => {
  it('takes visible ASCII, reads no header as none, and refuses anything else', () => {
    const session = newSessionId();
    expect(session).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(sessionIdOf({ 'mcp-session-id': session })).toBe(session);
    expect(sessionIdOf({})).toBeUndefined();
    for (const bad of ['', 'a b', 'é', 'x'.repeat(257)]) expect(() => sessionIdOf({ 'mcp-session-id': bad })).toThrow(/visible ASCII/);
  });
});
