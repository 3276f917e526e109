import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, spawnNode, startRedis, waitFor } from '@volley/shared/testing';
import type { NodeProcess, TestRedis } from '@volley/shared/testing';

const fixture = (file: string): string => fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redis(options?: Parameters<typeof startRedis>[0]): Promise<TestRedis> {
  const server = await startRedis(options);
  cleanups.push(() => server.stop());
  return server;
}

function client(url: string, options: { retry?: boolean } = {}): Redis {
  const connection = new Redis(url, {
    maxRetriesPerRequest: options.retry ? null : 0,
    ...(options.retry ? {} : { retryStrategy: () => null }),
  });
  // Errors surface through the awaited commands; an unhandled 'error' event would only add noise.
  connection.on('error', () => {});
  cleanups.push(() => connection.disconnect());
  return connection;
}

async function node(options: Parameters<typeof spawnNode>[0]): Promise<NodeProcess> {
  const child = await spawnNode(options);
  cleanups.push(() => child.kill());
  return child;
}

describe('startRedis', () => {
  describe('when started with default options', () => {
    it('answers PING and SET/GET over ioredis', async () => {
      const server = await redis();
      expect(server.url).toBe(`redis://${server.host}:${server.port}`);
      const connection = client(server.url);
      expect(await connection.ping()).toBe('PONG');
      await connection.set('greeting', 'hello');
      expect(await connection.get('greeting')).toBe('hello');
    });

    it('is unreachable after stop()', async () => {
      const server = await redis();
      await server.stop();
      const connection = client(server.url);
      await expect(connection.ping()).rejects.toThrow();
    });

    it('tolerates stop() being called twice', async () => {
      const server = await redis();
      await server.stop();
      await expect(server.stop()).resolves.toBeUndefined();
    });
  });

  describe('when started twice', () => {
    it('gives two independent servers', async () => {
      const [first, second] = await Promise.all([redis(), redis()]);
      expect(first.port).not.toBe(second.port);
      await client(first.url).set('owner', 'first');
      expect(await client(second.url).get('owner')).toBeNull();
    });
  });

  describe('when appendOnly is true and the server restarts', () => {
    it('keeps the data on the same port, and existing clients reconnect', async () => {
      const server = await redis({ appendOnly: true, backend: 'redis-server' });
      const connection = client(server.url, { retry: true });
      await connection.set('survives', 'yes');
      await server.restart!();
      expect(await connection.get('survives')).toBe('yes');
      expect(await client(server.url).get('survives')).toBe('yes');
    });
  });

  describe('when appendOnly is false and the server restarts', () => {
    it('comes back empty', async () => {
      const server = await redis({ backend: 'redis-server' });
      await client(server.url).set('survives', 'no');
      await server.restart!();
      expect(await client(server.url).get('survives')).toBeNull();
    });
  });

  describe('when extra args are given', () => {
    it('passes them to the server', async () => {
      const server = await redis({ args: ['--maxmemory', '10mb'] });
      expect(await client(server.url).config('GET', 'maxmemory')).toEqual(['maxmemory', String(10 * 1024 * 1024)]);
    });
  });

  describe('when no redis-server binary exists', () => {
    it('fails loudly with installation instructions', async () => {
      const previous = process.env.REDIS_SERVER_BIN;
      process.env.REDIS_SERVER_BIN = '/nonexistent/redis-server';
      try {
        await expect(startRedis({ backend: 'redis-server' })).rejects.toThrow(/install redis-server/i);
      } finally {
        if (previous === undefined) delete process.env.REDIS_SERVER_BIN;
        else process.env.REDIS_SERVER_BIN = previous;
      }
    });
  });
});

describe('spawnNode', () => {
  describe('when the script prints its ready line', () => {
    it('resolves once ready, with stdout parsed into lines', async () => {
      const child = await node({
        name: 'echo',
        script: fixture('echo-worker.ts'),
        args: ['--flag'],
        env: { FIXTURE_ECHO: 'hi' },
        ready: (line) => line.msg === 'ready',
      });
      expect(child.pid).toBeGreaterThan(0);
      expect(child.lines[0]).toEqual({ msg: 'booting (not JSON)', raw: true });
      expect(child.lines[1]).toMatchObject({ msg: 'ready', pid: child.pid, args: ['--flag'], echo: 'hi' });
    });

    it('waitForLine matches lines already seen and lines still to come', async () => {
      const child = await node({ name: 'echo', script: fixture('echo-worker.ts'), env: { FIXTURE_ECHO: 'later' }, ready: (line) => line.msg === 'ready' });
      await expect(child.waitForLine((line) => line.msg === 'ready')).resolves.toMatchObject({ msg: 'ready' });
      await expect(child.waitForLine((line) => line.msg === 'echo')).resolves.toMatchObject({ value: 'later' });
    });

    it('waitForLine rejects after its timeout with the output so far', async () => {
      const child = await node({ name: 'echo', script: fixture('echo-worker.ts'), ready: (line) => line.msg === 'ready' });
      await expect(child.waitForLine((line) => line.msg === 'never', 200)).rejects.toThrow(
        /spawnNode\(echo\): no matching line within 200 ms[\s\S]*"msg":"ready"/,
      );
    });

    it('stop() ends it with SIGTERM and resolves its exit', async () => {
      const child = await node({ name: 'echo', script: fixture('echo-worker.ts'), ready: (line) => line.msg === 'ready' });
      await expect(child.stop()).resolves.toEqual({ code: 0, signal: null });
      expect(child.lines.some((line) => line.msg === 'stopping')).toBe(true);
      await expect(child.exited).resolves.toEqual({ code: 0, signal: null });
    });
  });

  describe('when the script ignores SIGTERM', () => {
    it('stop() escalates to SIGKILL after the timeout', async () => {
      const child = await node({
        name: 'stubborn',
        script: fixture('echo-worker.ts'),
        env: { FIXTURE_IGNORE_SIGTERM: '1' },
        ready: (line) => line.msg === 'ready',
      });
      const started = Date.now();
      await expect(child.stop('SIGTERM', 300)).resolves.toEqual({ code: null, signal: 'SIGKILL' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(child.lines.some((line) => line.msg === 'ignoring SIGTERM')).toBe(true);
    });
  });

  describe('when env sets a variable to undefined', () => {
    it('removes the inherited variable', async () => {
      process.env.FIXTURE_ECHO = 'inherited';
      try {
        const inherited = await node({ name: 'inherits', script: fixture('echo-worker.ts'), ready: (line) => line.msg === 'ready' });
        expect(inherited.lines[1]).toMatchObject({ echo: 'inherited' });
        const removed = await node({
          name: 'removes',
          script: fixture('echo-worker.ts'),
          env: { FIXTURE_ECHO: undefined },
          ready: (line) => line.msg === 'ready',
        });
        expect(removed.lines[1]).toMatchObject({ echo: null });
      } finally {
        delete process.env.FIXTURE_ECHO;
      }
    });
  });

  describe('when the script exits before its ready line', () => {
    it('rejects with its stderr in the error', async () => {
      const spawning = spawnNode({ name: 'crasher', script: fixture('crash-early.ts'), ready: (line) => line.msg === 'ready' });
      await expect(spawning).rejects.toThrow(/spawnNode\(crasher\): exited \(code 3, signal null\)[\s\S]*fatal: REDIS_URL is not set/);
    });
  });

  describe('when the ready line never comes', () => {
    it('rejects after readyTimeoutMs and kills the process', async () => {
      const spawning = spawnNode({ name: 'silent', script: fixture('echo-worker.ts'), ready: (line) => line.msg === 'never', readyTimeoutMs: 300 });
      await expect(spawning).rejects.toThrow(/spawnNode\(silent\): no matching line within 300 ms/);
    });
  });

  describe('when no ready predicate is given', () => {
    it('resolves as soon as the process has spawned', async () => {
      const child = await node({ name: 'no-ready', script: fixture('echo-worker.ts') });
      await expect(child.waitForLine((line) => line.msg === 'ready')).resolves.toMatchObject({ pid: child.pid });
    });
  });
});

describe('waitFor', () => {
  describe('when the probe eventually returns a truthy value', () => {
    it('resolves with that value, treating throws as "not yet"', async () => {
      let calls = 0;
      const value = await waitFor(
        () => {
          calls += 1;
          if (calls === 1) throw new Error('not yet');
          return calls >= 3 ? { calls } : false;
        },
        { intervalMs: 5 },
      );
      expect(value).toEqual({ calls: 3 });
    });
  });

  describe('when the probe never succeeds', () => {
    it('throws the given message after the timeout', async () => {
      await expect(waitFor(async () => undefined, { timeoutMs: 100, message: 'queue never drained' })).rejects.toThrow(/queue never drained \(after 100 ms\)/);
    });
  });
});

describe('freePort', () => {
  describe('when called twice', () => {
    it('returns usable, positive port numbers', async () => {
      const [a, b] = await Promise.all([freePort(), freePort()]);
      expect(a).toBeGreaterThan(0);
      expect(b).toBeGreaterThan(0);
    });
  });
});
