import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { env, parseEnv } from './config.ts';
import { VolleyError } from './errors.ts';

const schema = z.object({
  PORT: env.port(8080),
  CONCURRENCY: env.positiveInt(16),
  VERBOSE: env.boolean(false),
  TRACING: env.boolean(true),
  REDIS_URL: env.redisUrl(),
  MODULES: env.csv(),
  NAME: z.string().default('volley'),
});

function configError(vars: NodeJS.ProcessEnv): VolleyError {
  try {
    parseEnv(schema, vars);
  } catch (error) {
    expect(VolleyError.isInstance(error)).toBe(true);
    return error as VolleyError;
  }
  throw new Error('expected parseEnv to throw');
}

describe('parseEnv', () => {
  describe('when nothing is set', () => {
    it('applies every default', () => {
      expect(parseEnv(schema, {})).toEqual({
        PORT: 8080,
        CONCURRENCY: 16,
        VERBOSE: false,
        TRACING: true,
        REDIS_URL: 'redis://127.0.0.1:6379',
        MODULES: [],
        NAME: 'volley',
      });
    });
  });

  describe('when a variable is an empty or blank string', () => {
    it('counts it as unset and applies the default', () => {
      const config = parseEnv(schema, { PORT: '', CONCURRENCY: '   ', VERBOSE: '', REDIS_URL: '', NAME: '' });

      expect(config).toMatchObject({
        PORT: 8080,
        CONCURRENCY: 16,
        VERBOSE: false,
        REDIS_URL: 'redis://127.0.0.1:6379',
        NAME: 'volley',
      });
    });

    it('reports a required variable set to an empty string as missing', () => {
      expect(() => parseEnv(z.object({ TOKEN: z.string() }), { TOKEN: '' })).toThrow(
        /^invalid configuration:\n {2}TOKEN: Invalid input: expected string, received undefined$/,
      );
    });
  });

  describe('when variables are set', () => {
    it('coerces numbers', () => {
      expect(parseEnv(schema, { PORT: '3000', CONCURRENCY: '4' })).toMatchObject({ PORT: 3000, CONCURRENCY: 4 });
    });

    it.each([
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ])('reads the boolean %j as %s', (text, value) => {
      expect(parseEnv(schema, { VERBOSE: text, TRACING: text })).toMatchObject({ VERBOSE: value, TRACING: value });
    });

    it('splits a comma-separated list, trimming items and dropping empty ones', () => {
      expect(parseEnv(schema, { MODULES: ' ./a.ts, ./b.ts,,./c.ts , ' }).MODULES).toEqual(['./a.ts', './b.ts', './c.ts']);
    });

    it('accepts redis and rediss URLs', () => {
      const url = 'rediss://cache.internal:6380/2';

      expect(parseEnv(schema, { REDIS_URL: url }).REDIS_URL).toBe(url);
    });

    it('ignores variables the schema does not name', () => {
      expect(parseEnv(schema, { PATH: '/usr/bin', HOME: '/root' })).not.toHaveProperty('PATH');
    });
  });

  describe('when variables are invalid', () => {
    it('reports every bad variable at once, with its value, as config_invalid', () => {
      const error = configError({
        PORT: '70000',
        CONCURRENCY: '0',
        VERBOSE: 'maybe',
        REDIS_URL: 'http://localhost:6379',
        NAME: 'ok',
      });

      expect(error.code).toBe('config_invalid');
      expect(error.status).toBe(500);
      const lines = error.message.split('\n');
      expect(lines[0]).toBe('invalid configuration:');
      expect(lines.slice(1).map((line) => line.trim().split(':')[0])).toEqual(['PORT', 'CONCURRENCY', 'VERBOSE', 'REDIS_URL']);
      expect(error.message).toContain('(got "70000")');
      expect(error.message).toContain('(got "maybe")');
      expect(error.message).toContain('REDIS_URL: must be a redis:// or rediss:// URL (got "http://localhost:6379")');
    });

    it.each([
      ['not a number', 'PORT', 'eighty'],
      ['a fraction', 'CONCURRENCY', '1.5'],
      ['negative', 'CONCURRENCY', '-2'],
    ])('rejects a number that is %s', (_kind, name, value) => {
      expect(configError({ [name]: value }).message).toContain(`${name}: `);
    });
  });

  describe('when the schema refines the whole object', () => {
    it('reports the problem against the environment', () => {
      const refined = z.object({ MIN: env.positiveInt(1), MAX: env.positiveInt(10) }).refine((config) => config.MIN <= config.MAX, 'MIN must not exceed MAX');

      expect(() => parseEnv(refined, { MIN: '20' })).toThrow('(environment): MIN must not exceed MAX');
    });
  });
});

describe('parseEnv error messages', () => {
  const secrets = z.object({ OPENAI_API_KEY: z.string().min(40), REDIS_URL: env.redisUrl(), PORT: env.port(1) });

  describe('when a secret or a URL with a password is invalid', () => {
    it('names the variable but keeps the secret out of the message', () => {
      let message = '';
      try {
        parseEnv(secrets, { OPENAI_API_KEY: 'sk-short-secret', REDIS_URL: 'http://user:hunter2@host:6379', PORT: 'x' });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('OPENAI_API_KEY');
      expect(message).toContain('(value hidden)');
      expect(message).not.toContain('sk-short-secret');
      expect(message).toContain('REDIS_URL');
      expect(message).not.toContain('hunter2');
      expect(message).toContain('"http://user:***@host:6379"');
      expect(message).toContain('(got "x")');
    });
  });
});
