import { describe, expect, it } from 'vitest';
import { TranscriptCache } from './transcript-cache.ts';

const transcript = (bytes: number) => ({ messages: [{ role: 'user' as const, content: 'x'.repeat(bytes) }], bytes });

describe('TranscriptCache', () => {
  describe('when it would hold more than its bound', () => {
    it('lets the least recently used go first', () => {
      const cache = new TranscriptCache(100);
      cache.set('a', transcript(40));
      cache.set('b', transcript(40));
      cache.get('a');
      cache.set('c', transcript(40));

      expect([cache.get('a')?.bytes, cache.get('b'), cache.get('c')?.bytes]).toEqual([40, undefined, 40]);
    });

    it('keeps no transcript larger than the bound, and drops what it held for that task', () => {
      const cache = new TranscriptCache(100);
      cache.set('a', transcript(40));
      cache.set('a', transcript(101));
      cache.set('b', transcript(100));

      expect([cache.get('a'), cache.get('b')?.bytes]).toEqual([undefined, 100]);
    });
  });
});
