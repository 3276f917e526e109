import { describe, expect, it } from 'vitest';
import { evictionPolicyVerdict } from './eviction-policy.ts';

const noeviction = (node: string) => ({ node, policy: 'noeviction' });

describe('evictionPolicyVerdict', () => {
  describe('when every server is noeviction', () => {
    it('is ok, strict or not', () => {
      expect(evictionPolicyVerdict([noeviction('a:1'), noeviction('b:2')], false)).toEqual({ ok: true });
      expect(evictionPolicyVerdict([noeviction('a:1')], true)).toEqual({ ok: true });
    });
  });

  describe('when a server evicts', () => {
    const readings = [noeviction('a:1'), { node: 'b:2', policy: 'allkeys-lru' }, { node: 'c:3', policy: undefined, problem: 'INFO refused (x)' }];

    it('names the policy, the server and what to set, and only the evicting server', () => {
      const verdict = evictionPolicyVerdict(readings, false);
      expect(verdict).toMatchObject({ ok: false, kind: 'evicting', nodes: [{ node: 'b:2', policy: 'allkeys-lru' }] });
      const message = !verdict.ok ? verdict.message : '';
      expect(message).toMatch(/^Redis maxmemory-policy is allkeys-lru on b:2, not noeviction: /);
      expect(message).toContain('set maxmemory-policy noeviction');
      expect(message).toContain('VOLLEY_REQUIRE_NOEVICTION=true refuses to start instead');
    });

    it('under the strict flag, refuses and says how to proceed', () => {
      const verdict = evictionPolicyVerdict(readings, true);
      expect(!verdict.ok && verdict.message).toMatch(
        /^refusing to start: Redis maxmemory-policy is allkeys-lru on b:2, and VOLLEY_REQUIRE_NOEVICTION=true requires noeviction; set maxmemory-policy noeviction .*unset VOLLEY_REQUIRE_NOEVICTION/,
      );
    });
  });

  describe('when a server cannot be read', () => {
    const readings = [noeviction('a:1'), { node: 'c:3', policy: undefined, problem: "CONFIG GET refused (ERR unknown command 'CONFIG')" }];

    it('says it could not be checked, and why', () => {
      const verdict = evictionPolicyVerdict(readings, false);
      expect(verdict).toMatchObject({ ok: false, kind: 'unknown' });
      expect(!verdict.ok && verdict.message).toBe(
        "Redis maxmemory-policy could not be checked (c:3: CONFIG GET refused (ERR unknown command 'CONFIG')): BullMQ needs noeviction, make sure your Redis uses it",
      );
    });

    it('under the strict flag, refuses: unconfirmed is not confirmed', () => {
      const verdict = evictionPolicyVerdict(readings, true);
      expect(!verdict.ok && verdict.message).toMatch(
        /^refusing to start: Redis maxmemory-policy could not be checked \(c:3: .*\), and VOLLEY_REQUIRE_NOEVICTION=true requires/,
      );
    });
  });
});
