import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Api, type Cluster } from './support/cluster.ts';
import { ask, callsFromQuestion } from './support/scripted-calls.ts';

const APPROVAL_TOOLS = fileURLToPath(new URL('./fixtures/approval-tools.ts', import.meta.url));
/** README's picture is refreshed with `VOLLEY_UI_SCREENSHOT=docs/ui-timeline.png`; otherwise the shot goes to a temporary file. */
const SCREENSHOT = process.env.VOLLEY_UI_SCREENSHOT || join(tmpdir(), `volley-ui-timeline-${process.pid}.png`);
/** Debian's chromium: the test fails (never skips) without it. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const KEY = `vk_${randomBytes(24).toString('hex')}`;

const write = (id: string, name: 'guarded_write' | 'plain_write', key: string, ms: number) => ({ id, name, arguments: { key, label: id, ms } });
const quick = (id: string, ms: number) => ({ id, name: 'quick', arguments: { label: id, ms } });

describe('the timeline page', () => {
  let cluster: Cluster;
  let api: Api;
  let browser: Browser;
  let page: Page;
  const requests: Request[] = [];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`).toBe(true);
    [cluster, browser] = await Promise.all([
      startCluster({
        workers: 2,
        toolModules: [APPROVAL_TOOLS],
        respond: callsFromQuestion,
        workerEnv: { VOLLEY_LOCK_PARK_MS: '1000' },
        orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme` },
      }),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
    api = cluster.api.withHeaders({ authorization: `Bearer ${KEY}` });
    page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    page.on('request', (request) => requests.push(request));
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  describe('when API keys are on', () => {
    it('serves the page and its files without a key, with their content types, and revalidates them by ETag', async () => {
      const base = cluster.api.baseUrl;
      const bare = await fetch(`${base}/ui`, { redirect: 'manual' });
      expect(bare.status).toBe(301);
      expect(bare.headers.get('location')).toBe('/ui/');
      const types = {
        '': 'text/html; charset=utf-8',
        'app.js': 'text/javascript; charset=utf-8',
        'sse.js': 'text/javascript; charset=utf-8',
        'timeline.js': 'text/javascript; charset=utf-8',
        'style.css': 'text/css; charset=utf-8',
      };
      for (const [file, type] of Object.entries(types)) {
        const response = await fetch(`${base}/ui/${file}`);
        expect(response.status, file).toBe(200);
        expect(response.headers.get('content-type')).toBe(type);
        expect(response.headers.get('cache-control')).toBe('no-cache');
        expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
        const again = await fetch(`${base}/ui/${file}`, { headers: { 'if-none-match': response.headers.get('etag')! } });
        expect(again.status).toBe(304);
      }
    });

    it('keeps the API and every other path closed without the key', async () => {
      const base = cluster.api.baseUrl;
      const { body: created } = await api.post('/v1/tasks', ask([quick('q0', 0)]));
      for (const path of [
        '/v1/tasks',
        `/v1/tasks/${created.id}`,
        `/v1/tasks/${created.id}/events`,
        '/v1/tools',
        '/ui/other.js',
        '/ui/../v1/tasks',
        '/ui/app.js/x',
      ]) {
        const response = await fetch(`${base}${path}`);
        expect(response.status, path).toBe(401);
      }
      const approvals = await fetch(`${base}/v1/tasks/${created.id}/approvals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"decisions":[]}',
      });
      expect(approvals.status).toBe(401);
      expect((await api.get('/v1/tasks')).status).toBe(200);
      await api.waitForTask(created.id);
    });
  });

  describe('when a person opens a running task, watches its calls and approves the waiting one', () => {
    let id: string;
    const timings: Record<string, number> = {};

    it('asks for the key once, lists the task, and shows its bars live', async () => {
      const started = performance.now();
      await page.goto(`${cluster.api.baseUrl}/ui/`);
      await page.getByTestId('key-form').waitFor({ state: 'visible' });
      timings.pageLoadMs = performance.now() - started;

      const calls = [write('g1', 'guarded_write', 'rec-1', 300), quick('q1', 250), write('w1', 'plain_write', 'rec-1', 200)];
      const { body: created } = await api.post('/v1/tasks', { ...ask(calls), metadata: { customer: 'c-1042' } });
      id = created.id;

      await page.getByTestId('key-input').fill(KEY);
      await page.getByTestId('key-submit').click();
      const row = page.locator(`[data-testid="task-row"][data-task-id="${id}"]`);
      await row.waitFor();
      await expect.poll(() => row.textContent()).toContain('customer=c-1042');
      // The key is kept for the tab: a reload does not ask again.
      await page.reload();
      await row.waitFor();
      expect(await page.getByTestId('key-form').isVisible()).toBe(false);

      await row.click();
      await page.waitForURL(`**/ui/#/tasks/${id}`);
      await page.locator('[data-testid="llm-bar"][data-turn="0"]').waitFor();
      await page.locator('[data-testid="seg-run"][data-call-id="q1"]').waitFor();
      await page.locator('[data-testid="seg-queue"][data-call-id="q1"]').waitFor({ state: 'attached' });
      const pending = page.locator('[data-testid="call-row"][data-call-id="g1"]');
      await pending.getByTestId('approve').waitFor();
      expect(await pending.getByTestId('decision').textContent()).toBe('awaiting approval');
      await page.locator('[data-testid="seg-approval"][data-call-id="g1"]').waitFor();
      expect(await page.getByTestId('task-status').textContent()).toBe('awaiting_approval');
      // The later writer of rec-1 stands behind the waiting call, with no run of its own yet.
      expect(await page.locator('[data-testid="seg-run"][data-call-id="w1"]').count()).toBe(0);
      // While waiting, the approval bar grows with the clock.
      const width = () => page.locator('[data-testid="seg-approval"][data-call-id="g1"]').evaluate((node) => node.getBoundingClientRect().width);
      const before = await width();
      await expect.poll(width).toBeGreaterThan(before);
      await page.locator('[data-testid="seg-run"][data-call-id="q1"]:not(.live)').waitFor();
    });

    it('runs the call once Approve is clicked, then the call behind it, and the task completes', async () => {
      const pending = page.locator('[data-testid="call-row"][data-call-id="g1"]');
      const clickedAt = performance.now();
      await pending.getByTestId('approve').click();
      await page.locator('[data-testid="seg-run"][data-call-id="g1"]').waitFor();
      timings.approveToRunBarMs = performance.now() - clickedAt;
      await expect.poll(() => pending.getByTestId('decision').textContent()).toBe('approved');
      expect(await pending.getByTestId('approve').count()).toBe(0);
      await page.locator('[data-testid="seg-run"][data-call-id="w1"]').waitFor();
      await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 15_000 }).toBe('completed');
      await page.locator('[data-testid="llm-bar"][data-turn="1"]').waitFor();
      for (const call of ['g1', 'q1', 'w1']) {
        expect(await page.locator(`[data-testid="call-row"][data-call-id="${call}"]`).getAttribute('data-status')).toBe('succeeded');
        expect(await page.locator(`[data-testid="call-row"][data-call-id="${call}"]`).getByTestId('worker').textContent()).toMatch(/^worker-\d$/);
      }
      // The writer behind the waiting call ran after it: its run bar starts where g1's ends, or later.
      const left = (call: string) => page.locator(`[data-testid="seg-run"][data-call-id="${call}"]`).evaluate((node) => node.getBoundingClientRect().left);
      const right = (call: string) => page.locator(`[data-testid="seg-run"][data-call-id="${call}"]`).evaluate((node) => node.getBoundingClientRect().right);
      expect(await left('w1')).toBeGreaterThanOrEqual((await right('g1')) - 1);
      expect((await api.get(`/v1/tasks/${id}`)).body.status).toBe('completed');
      await page.screenshot({ path: SCREENSHOT });
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
      process.stdout.write(`timeline page: load ${Math.round(timings.pageLoadMs!)} ms, approve click → run bar ${Math.round(timings.approveToRunBarMs!)} ms\n`);
    });

    it('denies a waiting call with the reason typed in, and the task goes on without it', async () => {
      const { body: created } = await api.post('/v1/tasks', ask([write('g2', 'guarded_write', 'rec-2', 0), quick('q2', 0)]));
      await page.goto(`${cluster.api.baseUrl}/ui/#/tasks/${created.id}`);
      const pending = page.locator('[data-testid="call-row"][data-call-id="g2"]');
      await pending.getByTestId('deny').click();
      await pending.getByTestId('deny-reason').fill('not this record');
      await pending.getByTestId('deny-confirm').click();
      await expect.poll(() => pending.getByTestId('decision').textContent()).toBe('denied: not this record');
      await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 15_000 }).toBe('completed');
      expect(await pending.getAttribute('data-status')).toBe('failed');
      expect(await page.locator('[data-testid="seg-run"][data-call-id="g2"]').count()).toBe(0);
      const task = await api.get(`/v1/tasks/${created.id}`);
      const denied = task.body.messages.find((message: any) => message.role === 'tool' && message.tool_call_id === 'g2');
      expect(denied.content).toContain('not this record');
    });

    it('resumes the event stream after the last event it got when the connection ends early', async () => {
      const { body: created } = await api.post('/v1/tasks', ask([quick('q3', 200), quick('q4', 0)]));
      const eventsPath = `/v1/tasks/${created.id}/events`;
      const resumedAfter: Array<string | undefined> = [];
      let cutAt: string | undefined;
      await page.route(`**${eventsPath}`, async (route) => {
        if (cutAt === undefined) {
          // The first connection gets the stream up to q3's start, then ends without task.finished.
          const whole = await (await route.fetch()).text();
          const blocks = whole.split('\n\n');
          const cut = blocks.findIndex((block) => block.includes('event: tool_call.started') && block.includes('"q3"'));
          const kept = blocks.slice(0, cut + 1);
          cutAt = /^id: (.+)$/m.exec(kept.at(-1)!)![1];
          return route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `${kept.join('\n\n')}\n\n` });
        }
        resumedAfter.push(route.request().headers()['last-event-id']);
        return route.continue();
      });
      try {
        await page.goto(`${cluster.api.baseUrl}/ui/#/tasks/${created.id}`);
        await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 15_000 }).toBe('completed');
      } finally {
        await page.unroute(`**${eventsPath}`);
      }
      expect(cutAt).toMatch(/^\d+-\d+$/);
      expect(resumedAfter).toEqual([cutAt]);
      // Nothing lost, nothing twice: one row per call, both finished, both turns' model bars.
      expect(await page.getByTestId('call-row').count()).toBe(2);
      for (const call of ['q3', 'q4'])
        expect(await page.locator(`[data-testid="call-row"][data-call-id="${call}"]`).getAttribute('data-status')).toBe('succeeded');
      expect(await page.getByTestId('llm-bar').count()).toBe(2);
      expect(await page.locator('[data-testid="seg-run"][data-call-id="q3"]').count()).toBe(1);
    });

    it('made no request to any other host, and sent the key on every API call once it was given', () => {
      const origin = new URL(cluster.api.baseUrl).origin;
      expect(requests.length).toBeGreaterThan(5);
      const elsewhere = requests.map((request) => request.url()).filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
      expect(elsewhere).toEqual([]);
      const apiCalls = requests.filter((request) => new URL(request.url()).pathname.startsWith('/v1/'));
      expect(apiCalls.map((request) => request.url())).toEqual(
        expect.arrayContaining([expect.stringContaining(`/v1/tasks/${id}/events`), expect.stringContaining('/approvals')]),
      );
      // One call went without a key: the first, which found that this orchestrator wants one.
      const keyless = apiCalls.filter((request) => request.headers().authorization !== `Bearer ${KEY}`);
      expect(keyless.map((request) => new URL(request.url()).pathname)).toEqual(['/v1/tasks']);
      expect(apiCalls[0]).toBe(keyless[0]);
    });
  });
});
