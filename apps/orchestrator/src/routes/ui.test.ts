import { pino } from 'pino';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ApiKeyring } from '../auth/api-keys.ts';
import { registerSecurity } from '../auth/security.ts';
import { useZodSchemas } from '../http/schema-compilers.ts';
import { registerUiRoutes, UI_ROUTES } from './ui.ts';

const KEY = 'vk_0123456789abcdef0123456789abcdef';

function appWithKeys() {
  const app = Fastify();
  useZodSchemas(app, pino({ level: 'silent' }));
  const security = { keyring: new ApiKeyring([{ key: KEY, tenant: 'acme' }]), tenantTools: new Map(), taskRateLimit: null, dashboardTenants: null };
  registerSecurity(app, security, pino({ level: 'silent' }), { publicRoutes: UI_ROUTES });
  registerUiRoutes(app);
  app.get('/v1/tasks', async () => ({ tasks: [] }));
  app.get('/v1/tasks/:id/events', async () => '');
  return app;
}

describe('registerUiRoutes', () => {
  describe('when API keys are on', () => {
    it('serves the page and its files to anyone, with their types, no-cache and an ETag', async () => {
      const app = appWithKeys();
      const page = await app.inject('/ui/');
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.body).toContain('<script type="module" src="app.js">');
      for (const [file, type] of [
        ['app.js', 'text/javascript'],
        ['sse.js', 'text/javascript'],
        ['timeline.js', 'text/javascript'],
        ['style.css', 'text/css'],
      ] as const) {
        const response = await app.inject(`/ui/${file}`);
        expect(response.statusCode, file).toBe(200);
        expect(response.headers['content-type']).toBe(`${type}; charset=utf-8`);
        expect(response.headers['cache-control']).toBe('no-cache');
        const again = await app.inject({ url: `/ui/${file}`, headers: { 'if-none-match': String(response.headers.etag) } });
        expect(again.statusCode).toBe(304);
        expect(again.body).toBe('');
      }
    });

    it('redirects /ui to /ui/', async () => {
      const response = await appWithKeys().inject('/ui');
      expect(response.statusCode).toBe(301);
      expect(response.headers.location).toBe('/ui/');
    });

    it('exempts only those exact routes: the API and other paths still need the key', async () => {
      const app = appWithKeys();
      for (const url of ['/v1/tasks', '/v1/tasks/t1/events', '/ui/missing.js', '/ui/app.js/', '/uix', '/ui/app.js?x=1/../../v1/tasks']) {
        const response = await app.inject(url);
        if (url.startsWith('/ui/app.js?')) expect(response.statusCode, url).toBe(200);
        else expect(response.statusCode, url).toBe(401);
      }
      expect((await app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
    });
  });
});
