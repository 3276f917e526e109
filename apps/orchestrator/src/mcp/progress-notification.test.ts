import { ProgressNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { toProgressParams } from './progress-notification.ts';

const notification = (params: ReturnType<typeof toProgressParams>) => ({ method: 'notifications/progress', params });

describe('toProgressParams', () => {
  describe('when the tool reports any JSON', () => {
    it('counts steps and carries the value as the message', () => {
      const first = toProgressParams('tok', { step: 1, of: 3 }, 0);
      expect(first).toEqual({ progressToken: 'tok', progress: 1, message: '{"step":1,"of":3}' });
      expect(toProgressParams('tok', 'half way', 1)).toEqual({ progressToken: 'tok', progress: 2, message: 'half way' });
      expect(toProgressParams(7, null, 2)).toEqual({ progressToken: 7, progress: 3, message: 'null' });
      expect(ProgressNotificationSchema.safeParse(notification(first)).success).toBe(true);
    });
  });

  describe('when the tool reports a growing number', () => {
    it('is that number', () => {
      expect(toProgressParams('tok', 0.25, 0)).toEqual({ progressToken: 'tok', progress: 0.25 });
    });
  });

  describe("when the tool reports MCP's own shape", () => {
    it('passes progress, total and message through', () => {
      expect(toProgressParams('tok', { progress: 40, total: 100, message: 'copying' }, 10)).toEqual({
        progressToken: 'tok',
        progress: 40,
        total: 100,
        message: 'copying',
      });
    });
  });

  describe('when a reported number does not grow', () => {
    it('still moves progress forward, as MCP requires', () => {
      expect(toProgressParams('tok', 3, 5).progress).toBe(6);
      expect(toProgressParams('tok', { progress: 5 }, 5).progress).toBe(6);
    });
  });
});
