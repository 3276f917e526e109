import { describe, expect, it } from 'vitest';
import { serializeError } from './logger.ts';

/** What ioredis throws when Redis refuses a password: the command rides along on the error. */
function replyError(message: string, command: { name: string; args: unknown[] }): Error {
  return Object.assign(new Error(message), { command });
}

describe('serializeError', () => {
  describe('when a Redis command carrying credentials failed', () => {
    it.each(['hello', 'AUTH'])('keeps the name of %s but not its arguments', (name) => {
      const serialized = serializeError(replyError('WRONGPASS invalid username-password pair', { name, args: ['3', 'AUTH', 'default', 'hunter2'] }));
      expect(serialized.command).toEqual({ name, args: '[redacted]' });
      expect(JSON.stringify(serialized)).not.toContain('hunter2');
      expect(serialized.message).toContain('WRONGPASS');
    });
  });

  describe('when another command failed', () => {
    it('keeps its arguments for debugging', () => {
      const serialized = serializeError(replyError('WRONGTYPE', { name: 'get', args: ['volley:task:1'] }));
      expect(serialized.command).toEqual({ name: 'get', args: ['volley:task:1'] });
    });
  });
});
