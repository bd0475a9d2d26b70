/**
 * The dashboard end to end, in real headless Chromium: events sent with @segment/analytics-node appear in Live
 * events over SSE; a request Klaviyo refuses becomes a dead letter with Klaviyo's error; a broken mapping is
 * fixed in the config, the service restarted, and the dead letters replayed from the UI until Klaviyo has them.
 * Screenshots of every page go to artifacts/screenshots/; with UPDATE_SCREENSHOTS=1 a passing run also copies them
 * to docs/screenshots/ (the README's).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Analytics } from '@segment/analytics-node';
import { startEmulator } from '../src/emulator/index.js';
import { CHROMIUM, hasChromium, launchChromium } from './helpers/chromium.js';
import { freePort, startCli, stopCli } from './helpers/service-process.js';
import { until } from './helpers/until.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = join(root, 'artifacts/screenshots');
const DOC_SHOTS = join(root, 'docs/screenshots');
const TOKEN = 'ui-test-admin-token-0123456789';
const WRITE_KEY = 'ui_test_write_key';
const SHOP_KEY = 'ui_test_shop_write_key';
// Long enough to be masked to its first 3 and last 4 characters (GET /admin/config).
const API_KEY = 'pk_test_ui_0123456789abcdef';

// The "Signup" subscription first maps metric_name from a property the events do not have (a required field
// goes missing, so planning fails), then is fixed to use the event name.
const signupMapping = (metric: string) => ({
  profile: { email: { '@path': '$.context.traits.email' }, external_id: { '@path': '$.userId' } },
  metric_name: { '@path': metric },
  properties: { '@path': '$.properties' },
  unique_id: { '@path': '$.messageId' },
});
const serviceConfig = (metric: string) => ({
  sources: [{ name: 'web', writeKey: WRITE_KEY }],
  destinations: [
    {
      name: 'klaviyo',
      delivery: { flushIntervalMs: 20, maxAttempts: 3 },
      subscriptions: [
        { name: 'Identify', subscribe: 'type = "identify"', partnerAction: 'upsertProfile' },
        { name: 'Track', subscribe: 'type = "track" and event != "UI Signup"', partnerAction: 'trackEvent' },
        { name: 'Signup', subscribe: 'type = "track" and event = "UI Signup"', partnerAction: 'trackEvent', mapping: signupMapping(metric) },
      ],
    },
  ],
});

// One user's session in steps (send traffic, break the mapping, fix it, replay…): the steps keep their order under
// --sequence.shuffle; the files around them are shuffled as usual.
describe.skipIf(!hasChromium)(
  hasChromium ? 'dashboard in headless Chromium' : `dashboard: skipped, ${CHROMIUM} is missing (apt-get install chromium; CI installs it)`,
  { shuffle: false },
  () => {
    let emu: Awaited<ReturnType<typeof startEmulator>>;
    let dataDir: string;
    let configFile: string;
    let port: number;
    let url: string;
    let child: ChildProcess | undefined;
    let browser: Browser;
    let page: Page;
    const cspViolations: string[] = [];

    const startService = async () => {
      child = await startCli(port, ['--data-dir', dataDir, '--config', configFile, '--klaviyo-url', emu.url, '--api-key', API_KEY, '--admin-token', TOKEN]);
    };
    const stopService = () => stopCli(child);

    const admin = async (path: string) => (await fetch(`${url}/admin${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as Promise<any>;
    const emuState = async () => (await fetch(`${emu.url}/__emulator/state`)).json() as Promise<any>;
    const faults = (f: object) =>
      fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
    const adminSend = async (method: string, path: string, body: unknown) => {
      const res = await fetch(`${url}/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const send = async (calls: (a: Analytics) => void, writeKey = WRITE_KEY) => {
      const analytics = new Analytics({ writeKey, host: url, flushAt: 1, maxRetries: 0 });
      calls(analytics);
      await analytics.closeAndFlush();
    };
    const go = async (name: string) => {
      await page.getByTestId(`nav-${name}`).click();
      await page.getByTestId(`page-${name}`).waitFor();
    };
    const shot = (name: string, fullPage = true) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
    /** Whether the element has the focus (waiting a moment for it to get there). */
    const isFocused = (testid: string) => until(() => page.getByTestId(testid).evaluate((el) => el === document.activeElement), Boolean, 15_000);
    /** Press Tab until `target` has the focus, as a keyboard user would. */
    const tabTo = async (target: ReturnType<Page['locator']>, { back = false, max = 40 } = {}) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
        if (await target.evaluate((el) => el === document.activeElement)) return;
      }
      throw new Error(`${max} presses of Tab did not reach ${target}`);
    };

    beforeAll(async () => {
      // `npm test` builds the UI first; a bare `vitest run` builds it here.
      if (!existsSync(join(root, 'dist/ui/index.html')))
        execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
          cwd: root,
          stdio: 'inherit',
        });
      mkdirSync(SHOTS, { recursive: true });
      emu = await startEmulator({ port: 0, host: '127.0.0.1' });
      dataDir = mkdtempSync(join(tmpdir(), 'kd-ui-'));
      configFile = join(dataDir, 'config.json');
      writeFileSync(configFile, JSON.stringify(serviceConfig('$.properties.signupForm')));
      port = await freePort();
      url = `http://127.0.0.1:${port}`;
      await startService();
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.setDefaultTimeout(15_000);
      // The dashboard runs under a strict Content-Security-Policy: Chromium reports each thing it blocks here.
      page.on('console', (m) => /Content Security Policy/i.test(m.text()) && cspViolations.push(m.text()));
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await stopService();
      await emu?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('asks for the admin token and says so when it is wrong', async () => {
      await page.goto(`${url}/ui/`);
      await page.getByTestId('token-input').fill('not-the-token-at-all');
      await page.getByTestId('token-submit').click();
      await page.getByTestId('token-error').waitFor();
      expect(await page.getByTestId('token-error').textContent()).toMatch(/refused/);
      await page.getByTestId('token-input').fill(TOKEN);
      await shot('token', false);
      await page.getByTestId('token-submit').click();
      await page.getByTestId('page-overview').waitFor();
    });

    it('shows events from @segment/analytics-node in Live events as they arrive, with actions, payload and requests', async () => {
      await go('live');
      await page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
      await send((a) => {
        a.identify({ userId: 'ui-1', messageId: 'ui-identify-1', traits: { email: 'ui1@example.com', firstName: 'Ada' } });
        a.track({
          userId: 'ui-1',
          messageId: 'ui-track-1',
          event: 'Product Viewed',
          properties: { sku: 'A1', price: 12 },
          context: { traits: { email: 'ui1@example.com' } },
        });
      });
      // No reload: the rows come over the event stream.
      const row = page.locator('[data-testid=live-row][data-id="ui-track-1"]');
      await row.waitFor();
      await page.locator('[data-testid=live-row][data-id="ui-identify-1"]').waitFor();
      await row.getByTestId('live-toggle').click();
      expect(await row.getByTestId('live-toggle').getAttribute('aria-expanded')).toBe('true');
      const detail = page.getByTestId('live-detail');
      await detail.getByTestId('action-name').filter({ hasText: 'trackEvent' }).waitFor();
      expect(await detail.getByTestId('action-payload').first().textContent()).toContain('"metric_name": "Product Viewed"');
      await detail.getByTestId('klaviyo-request').first().waitFor();
      expect(await detail.locator('figcaption').allTextContents()).toContain('POST /api/events');
      // The outcome and the request that carried it follow once the worker has delivered it.
      await detail.getByTestId('live-outcome').filter({ hasText: 'delivered' }).waitFor();
      await detail.getByTestId('delivery-row').first().waitFor();
      const s = await until(
        emuState,
        (x) => x.events.some((e: any) => e.unique_id === 'ui-track-1') && x.profiles.some((p: any) => p.attributes.first_name === 'Ada'),
      );
      expect(s.events.find((e: any) => e.unique_id === 'ui-track-1').metric).toBe('Product Viewed');
      await shot('live');
    });

    it('works from the keyboard: the navigation, and a Live events row opened with Enter', async () => {
      await go('overview');
      // The navigation is operated with Tab and Enter.
      await page.getByTestId('nav-overview').focus();
      await tabTo(page.getByTestId('nav-deliveries'));
      await page.keyboard.press('Enter');
      await page.getByTestId('page-deliveries').waitFor();
      await page.keyboard.press('Shift+Tab');
      expect(await isFocused('nav-live')).toBe(true);
      await page.keyboard.press('Enter');
      await page.getByTestId('page-live').waitFor();
      expect(await page.getByTestId('nav-live').getAttribute('aria-current')).toBe('page');

      const row = page.locator('[data-testid=live-row][data-id="ui-identify-1"]');
      await row.waitFor();
      await tabTo(row.getByTestId('live-toggle'));
      await page.keyboard.press('Enter');
      expect(await row.getByTestId('live-toggle').getAttribute('aria-expanded')).toBe('true');
      await page.locator('#event-ui-identify-1').getByTestId('action-name').filter({ hasText: 'upsertProfile' }).waitFor();
      await page.keyboard.press('Enter');
      await page.locator('#event-ui-identify-1').waitFor({ state: 'detached' });
      expect(await row.getByTestId('live-toggle').getAttribute('aria-expanded')).toBe('false');

      // Pause is a toggle button: the stream's messages wait until it is pressed again.
      const pause = page.getByTestId('live-pause');
      await tabTo(pause, { back: true });
      await page.keyboard.press('Enter');
      expect(await pause.getAttribute('aria-pressed')).toBe('true');
      await send((a) => a.track({ userId: 'ui-1', messageId: 'ui-paused-1', event: 'Product Viewed', context: { traits: { email: 'ui1@example.com' } } }));
      await page.getByTestId('stream-state').filter({ hasText: '1 new message waiting' }).waitFor();
      expect(await page.locator('[data-testid=live-row][data-id="ui-paused-1"]').count()).toBe(0);
      await page.keyboard.press('Enter');
      expect(await pause.getAttribute('aria-pressed')).toBe('false');
      await page.locator('[data-testid=live-row][data-id="ui-paused-1"]').waitFor();
      // Newest first.
      expect(await page.getByTestId('live-row').first().getAttribute('data-id')).toBe('ui-paused-1');
    });

    it('shows a request Klaviyo refuses in Dead letters with its error, and as failed in Deliveries', async () => {
      expect((await faults({ rate400: 1 })).status).toBe(200);
      try {
        await send((a) => a.track({ userId: 'ui-2', messageId: 'ui-refused-1', event: 'Cart Viewed', context: { traits: { email: 'ui2@example.com' } } }));
        await until(
          () => admin('/dead-letters'),
          (d) => d.deadLetters?.some((x: any) => x.messageId === 'ui-refused-1'),
        );
      } finally {
        await faults({});
      }
      await go('dead-letters');
      const dead = page.locator('[data-testid=dead-row][data-message-id="ui-refused-1"]');
      await dead.waitFor();
      // The emulator's fault answers with Klaviyo's error shape; its detail is what the row shows.
      expect(await dead.textContent()).toContain('Injected fault');
      await dead.getByTestId('dead-toggle').click();
      expect(await page.getByTestId('dead-payload').textContent()).toContain('Cart Viewed');

      await go('deliveries');
      await page.getByTestId('deliveries-status').selectOption('failed');
      const failed = page.locator('[data-testid=delivery-row][data-status=failed]').first();
      await failed.waitFor();
      await failed.getByTestId('delivery-error-toggle').click();
      await page.getByTestId('delivery-error').first().waitFor();
      expect(await page.getByTestId('klaviyo-error').first().textContent()).toContain('Injected fault');
      await page.getByTestId('deliveries-status').selectOption('');
      await page.locator('[data-testid=delivery-row][data-status=ok]').first().waitFor();
      await shot('deliveries');
    });

    it('after the broken mapping is fixed and the service restarted, replays dead letters from the UI until Klaviyo has them', async () => {
      await send((a) => {
        a.track({
          userId: 'ui-3',
          messageId: 'ui-signup-1',
          event: 'UI Signup',
          properties: { plan: 'pro' },
          context: { traits: { email: 'ui3@example.com' } },
        });
        a.track({
          userId: 'ui-4',
          messageId: 'ui-signup-2',
          event: 'UI Signup',
          properties: { plan: 'free' },
          context: { traits: { email: 'ui4@example.com' } },
        });
      });
      const d = await until(
        () => admin('/dead-letters?reason=mapping'),
        (x) => x.deadLetters?.length === 2,
      );
      expect(d.deadLetters.map((x: any) => x.reason)).toEqual([
        expect.stringMatching(/mapping failed at .*metric_name/),
        expect.stringMatching(/mapping failed at .*metric_name/),
      ]);

      // Fix the mapping, restart on the same data dir: the dead letters are still there. Live events, following the
      // stream meanwhile, is kept from reconnecting for a moment: what came in while it was down shows once it is back.
      await go('live');
      await page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
      const stream = '**/admin/events/stream';
      await page.route(stream, (route) => route.abort());
      writeFileSync(configFile, JSON.stringify(serviceConfig('$.event')));
      await stopService();
      await startService();
      await page
        .getByTestId('stream-state')
        .filter({ hasText: /reconnecting|Connecting/ })
        .waitFor();
      await send((a) => a.track({ userId: 'ui-1', messageId: 'ui-while-down-1', event: 'Product Viewed', context: { traits: { email: 'ui1@example.com' } } }));
      expect(await page.locator('[data-testid=live-row][data-id="ui-while-down-1"]').count()).toBe(0);
      await page.unroute(stream);
      await page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
      await page.locator('[data-testid=live-row][data-id="ui-while-down-1"]').waitFor();
      expect(await page.getByTestId('live-row').first().getAttribute('data-id')).toBe('ui-while-down-1');

      await page.reload();
      await go('dead-letters');
      await until(
        () => page.locator('[data-testid=dead-row]').count(),
        (n) => n === 3,
        15_000,
      );
      await shot('dead-letters');
      // While the list for a newly typed reason is on its way, the rows shown are the old filter's: "all matching"
      // is disabled until they are replaced.
      expect(await page.getByTestId('replay-all').isEnabled()).toBe(true);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const filtered = /\/admin\/dead-letters\?.*reason=mapping/;
      await page.route(filtered, async (route) => (await held, route.continue()));
      const requested = page.waitForRequest(filtered);
      await page.getByTestId('dead-reason').fill('mapping failed');
      expect(await page.getByTestId('replay-all').isDisabled()).toBe(true);
      expect(await page.getByTestId('discard-all').isDisabled()).toBe(true);
      await requested;
      expect(await page.getByTestId('replay-all').isDisabled()).toBe(true);
      expect(await page.locator('[data-testid=dead-row]').count()).toBe(3);
      release();
      await until(
        () => page.locator('[data-testid=dead-row]').count(),
        (n) => n === 2,
        15_000,
      );
      await page.unroute(filtered);
      expect(await page.getByTestId('replay-all').isEnabled()).toBe(true);
      expect(await page.locator('[data-testid=dead-row][data-message-id="ui-refused-1"]').count()).toBe(0);
      expect(await page.getByTestId('dead-reason-text').first().textContent()).toMatch(/mapping failed at/);
      await shot('dead-letters');

      // One selected…
      await page.locator('[data-testid=dead-row][data-message-id="ui-signup-1"]').getByTestId('dead-select').check();
      await page.getByTestId('replay-selected').click();
      await page.getByTestId('dead-result').filter({ hasText: 'Replayed 1' }).waitFor();
      // …then all that still match the filter.
      await until(
        () => page.locator('[data-testid=dead-row]').count(),
        (n) => n === 1,
        15_000,
      );
      await page.getByTestId('replay-all').click();
      await page.getByTestId('dead-result').filter({ hasText: 'Replayed 1' }).waitFor();
      await page.getByTestId('empty').waitFor();

      const s = await until(emuState, (x) => ['ui-signup-1', 'ui-signup-2'].every((id) => x.events.some((e: any) => e.unique_id === id)));
      expect(s.events.filter((e: any) => e.unique_id?.startsWith('ui-signup-')).map((e: any) => e.metric)).toEqual(['UI Signup', 'UI Signup']);

      // The Klaviyo-refused one is discarded, through the confirm step.
      await page.getByTestId('dead-reason').fill('');
      const refused = page.locator('[data-testid=dead-row][data-message-id="ui-refused-1"]');
      await refused.getByTestId('dead-select').check();
      // Escape cancels the confirmation, and the focus goes back to the button that opened it.
      await page.getByTestId('discard-selected').click();
      await page.getByTestId('confirm').waitFor();
      expect(await isFocused('confirm-discard')).toBe(true);
      await page.keyboard.press('Escape');
      await page.getByTestId('confirm').waitFor({ state: 'detached' });
      expect(await isFocused('discard-selected')).toBe(true);
      // So does Cancel.
      await page.keyboard.press('Enter');
      await page.getByTestId('confirm-cancel').click();
      await page.getByTestId('confirm').waitFor({ state: 'detached' });
      expect(await isFocused('discard-selected')).toBe(true);
      await page.keyboard.press('Enter');
      await page.getByTestId('confirm-discard').click();
      await page.getByTestId('dead-result').filter({ hasText: 'Discarded 1' }).waitFor();
      // Nothing is selected any more, so that button is disabled: the focus is on the result instead.
      expect(await page.getByTestId('discard-selected').isDisabled()).toBe(true);
      expect(await isFocused('dead-result')).toBe(true);
      expect((await admin('/dead-letters')).deadLetters).toEqual([]);

      await go('deliveries');
      await page.getByTestId('deliveries-profile').fill('ui3@example.com');
      await page.locator('[data-testid=delivery-row][data-status=ok]').first().waitFor();
      expect(await page.locator('[data-testid=delivery-row][data-status=failed]').count()).toBe(0);
      await page.getByTestId('deliveries-profile').fill('');
      await until(
        () => page.locator('[data-testid=delivery-row][data-status=ok]').count(),
        (n) => n >= 2,
        15_000,
      );
    });

    it('the mapping tester points at the field of a bad message', async () => {
      await go('tester');
      await page
        .getByTestId('tester-input')
        .fill(
          [
            JSON.stringify({ type: 'track', userId: 'ui-5', event: 'Product Viewed', context: { traits: { email: 'ui5@example.com' } } }),
            JSON.stringify({ type: 'track', event: 'No user' }),
          ].join('\n'),
        );
      await page.getByTestId('tester-run').click();
      const results = page.getByTestId('tester-result');
      await results.nth(1).waitFor();
      expect(await results.nth(0).getAttribute('data-ok')).toBe('true');
      expect(await results.nth(0).getByTestId('action-name').first().textContent()).toBe('trackEvent');
      expect(await results.nth(1).getAttribute('data-ok')).toBe('false');
      expect(await results.nth(1).getByTestId('field-name').first().textContent()).toBe('userId');
      await shot('tester');
    });

    it('the overview charts show the traffic sent, and the configuration hides secrets', async () => {
      await go('overview');
      await page.getByTestId('chart-messages').locator('canvas').waitFor();
      await page.getByTestId('chart-klaviyo').locator('canvas').waitFor();
      await page.getByTestId('window-24h').click();
      await page.getByTestId('window-24h').and(page.locator('[aria-pressed=true]')).waitFor();
      await page.getByTestId('tile-dead-window').filter({ hasText: 'Dead-lettered (last day)' }).waitFor();
      await page.getByTestId('window-1h').click();
      await page.getByTestId('tile-dead-window').filter({ hasText: 'Dead-lettered (last hour)' }).waitFor();

      // So far this file sent 7 messages (ui-identify-1, ui-track-1, ui-paused-1, ui-refused-1, ui-signup-1/2,
      // ui-while-down-1); 3 became dead letters and 2 of those were replayed. The restart emptied this process's record of Klaviyo
      // requests: what is left are the replays'.
      const totals = async (testid: string) => JSON.parse((await page.getByTestId(testid).getAttribute('data-totals')) ?? '{}');
      const sum = (points: any[], key: string) => points.reduce((n, p) => n + p[key], 0);
      const o = (await admin('/overview?window=1h')).destinations[0];
      expect(sum(o.series, 'received')).toBe(7);
      expect(sum(o.series, 'dead')).toBe(3);
      const messages = await until(
        () => totals('chart-messages'),
        (t) => t.Received === 7 && t.Delivered === sum(o.series, 'delivered'),
      );
      expect(messages).toEqual({
        Received: 7,
        Delivered: sum(o.series, 'delivered'),
        Filtered: sum(o.series, 'filtered'),
        Retried: sum(o.series, 'retried'),
        'Dead-lettered': 3,
      });
      // Messages that matched no action are counted apart from those delivered.
      expect(await page.getByTestId('tile-filtered').textContent()).toBe(`Filtered (no action)${o.queue.filtered}`);
      expect(messages.Delivered).toBeGreaterThanOrEqual(6);
      expect(await page.getByTestId('chart-messages').locator('canvas').getAttribute('aria-label')).toContain('Received: 7 in total');
      expect(await page.getByTestId('chart-messages').locator('canvas').getAttribute('aria-label')).toContain('Dead-lettered: 3 in total');
      const klaviyo = await totals('chart-klaviyo');
      expect(klaviyo).toEqual({ Requests: sum(o.klaviyo, 'requests'), '429s': 0, Failed: 0 });
      expect(klaviyo.Requests).toBeGreaterThanOrEqual(1);
      expect(await page.getByTestId('tile-dead-window').textContent()).toBe('Dead-lettered (last hour)3');
      await shot('overview');

      await go('config');
      await page.getByTestId('config-destinations').waitFor();
      const text = (await page.getByTestId('page-config').textContent()) ?? '';
      expect(text).toContain('upsertProfile');
      // The keys the service was started with are shown masked, never in full.
      expect(text).not.toContain(API_KEY);
      expect(text).toContain('pk_…cdef');
      expect(text).not.toContain(WRITE_KEY);
      expect(text).toContain('ui_…_key');
      await shot('config');
    });

    it('an unknown message id says so and stops asking; a message no longer queued shows as unknown', async () => {
      const asked: string[] = [];
      const onRequest = (r: { url(): string }) => {
        if (r.url().includes('/admin/events/does-not-exist')) asked.push(r.url());
      };
      page.on('request', onRequest);
      try {
        await page.evaluate(() => (location.hash = '#/live/does-not-exist'));
        await page.getByTestId('live-not-found').waitFor();
        expect(await page.getByTestId('live-open').locator('h2').textContent()).toBe('Message does-not-exist');
        // Measuring the absence of requests: polling every 2 s would have asked again within 3 s.
        await new Promise((r) => setTimeout(r, 3000));
        expect(asked).toHaveLength(1);
      } finally {
        page.off('request', onRequest);
      }

      // Dead-lettered, then discarded: the queue no longer has it, and this process cannot tell what became of it.
      expect((await faults({ rate400: 1 })).status).toBe(200);
      try {
        await send((a) => a.track({ userId: 'ui-6', messageId: 'ui-gone-1', event: 'Cart Viewed', context: { traits: { email: 'ui6@example.com' } } }));
        await until(
          () => admin('/dead-letters'),
          (d) => d.deadLetters?.some((x: any) => x.messageId === 'ui-gone-1'),
        );
      } finally {
        await faults({});
      }
      await page.evaluate(() => (location.hash = '#/live/ui-gone-1'));
      const detail = page.locator('#event-ui-gone-1');
      await detail.getByTestId('live-outcome').filter({ hasText: 'dead' }).waitFor();
      const seq = (await admin('/dead-letters')).deadLetters.find((x: any) => x.messageId === 'ui-gone-1').seq;
      const discarded = await fetch(`${url}/admin/dead-letters/discard`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ seqs: [seq] }),
      });
      expect(await discarded.json()).toEqual({ discarded: 1 });
      // "dead" is settled, so the open detail no longer polls: opening it again asks once more.
      await page.evaluate(() => (location.hash = '#/live'));
      await page.getByTestId('page-live').waitFor();
      const row = page.locator('[data-testid=live-row][data-id="ui-gone-1"]');
      await row.getByTestId('live-toggle').click();
      await row.getByTestId('live-toggle').click();
      const outcome = detail.getByTestId('live-outcome').filter({ hasText: 'unknown' });
      await outcome.waitFor();
      expect(await detail.locator('.problem').first().textContent()).toMatch(/no longer queued/);
      // Neutral grey: not a failure.
      expect(await outcome.evaluate((el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color])).toEqual([
        'rgb(229, 231, 235)',
        'rgb(91, 99, 112)',
      ]);
    });

    it('edits a mapping live: validated as typed, tested on live messages, applied on its version, then the dead letters it fixes replayed', async () => {
      // A second source and destination, added live: the "Order" subscription maps metric_name from a property the
      // orders do not have, so they become dead letters.
      const orderMapping = (metric: string) => ({
        profile: { email: { '@path': '$.context.traits.email' } },
        metric_name: { '@path': metric },
        properties: { '@path': '$.properties' },
        unique_id: { '@path': '$.messageId' },
      });
      const base = serviceConfig('$.event');
      const added = await adminSend('POST', '/config', {
        sources: [
          { ...base.sources[0], destinations: ['klaviyo'] },
          { name: 'shop', writeKey: SHOP_KEY, destinations: ['shop'] },
        ],
        destinations: [
          ...base.destinations,
          {
            name: 'shop',
            delivery: { flushIntervalMs: 20, maxAttempts: 3 },
            subscriptions: [{ name: 'Order', subscribe: 'type = "track"', partnerAction: 'trackEvent', mapping: orderMapping('$.properties.metric') }],
          },
        ],
      });
      expect(added.status).toBe(200);
      await send(
        (a) =>
          ['ui-order-1', 'ui-order-2'].forEach((id, i) =>
            a.track({
              userId: `ui-o${i}`,
              messageId: id,
              event: 'Order Placed',
              properties: { total: 10 + i },
              context: { traits: { email: `o${i}@example.com` } },
            }),
          ),
        SHOP_KEY,
      );
      await until(
        () => admin('/dead-letters?destination=shop'),
        (d) => d.deadLetters?.length === 2,
      );

      await page.reload();
      await go('config');
      const editor = page.getByTestId('config-editor');
      await editor.getByTestId('edit-destination').selectOption('shop');
      const check = editor.getByTestId('edit-check');
      const trigger = editor.getByTestId('edit-trigger');
      const mapping = editor.getByTestId('edit-mapping');
      await until(
        () => trigger.inputValue(),
        (v) => v === 'type = "track"',
      );
      expect(JSON.parse(await mapping.inputValue())).toEqual(orderMapping('$.properties.metric'));

      // An invalid trigger: the dry run names the path at fault, and Apply stays disabled.
      await trigger.fill('type = "track" and event =');
      await check.and(page.locator('[data-state=invalid]')).waitFor();
      expect(await check.textContent()).toMatch(/destinations\.1 \("shop"\): .*Order.*incomplete/);
      expect(await editor.getByTestId('edit-apply').isDisabled()).toBe(true);
      // Mapping that is not JSON: its field is named.
      await trigger.fill('type = "track"');
      await mapping.fill('{"metric_name": ');
      await check.and(page.locator('[data-state=invalid]')).waitFor();
      expect(await check.getByTestId('field-name').textContent()).toBe('mapping');
      expect(await editor.getByTestId('edit-apply').isDisabled()).toBe(true);
      // Fixed: the event's name as the metric.
      await mapping.fill(JSON.stringify(orderMapping('$.event'), null, 2));
      await check.and(page.locator('[data-state=valid]')).waitFor();
      expect(await editor.getByTestId('edit-diff').textContent()).toContain('destinations[shop].subscriptions[Order].mapping.metric_name');
      expect(await editor.getByTestId('edit-apply').isEnabled()).toBe(true);

      // Tested on the live messages: before, mapping fails at metric_name; after, a request with the event's name.
      await editor.getByTestId('edit-test').click();
      const rows = editor.getByTestId('compare-row');
      await rows.nth(1).waitFor();
      const compared = await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-message-id'), e.getAttribute('data-changed')]));
      expect(compared.sort()).toEqual([
        ['ui-order-1', 'true'],
        ['ui-order-2', 'true'],
      ]);
      const row = page.locator('[data-testid=compare-row][data-message-id="ui-order-1"]');
      expect(await row.getByTestId('compare-before').getByTestId('field-name').first().textContent()).toMatch(/metric_name/);
      expect(await row.getByTestId('compare-before').getByTestId('klaviyo-request').count()).toBe(0);
      expect(await row.getByTestId('compare-after').getByTestId('field-error').count()).toBe(0);
      expect(await row.getByTestId('compare-after').getByTestId('klaviyo-request').first().textContent()).toContain('"name": "Order Placed"');
      await editor.screenshot({ path: join(SHOTS, 'config-edit.png') });

      // Someone else applies a version meanwhile: this edit, based on the one before, is refused and says why.
      const running = (await admin('/config')).version;
      expect((await adminSend('PATCH', '/config/destinations/shop', { delivery: { flushIntervalMs: 25, maxAttempts: 3 } })).status).toBe(200);
      await editor.getByTestId('edit-apply').click();
      const problem = editor.getByTestId('edit-problem');
      await problem.waitFor();
      expect(await problem.textContent()).toContain(`Not applied: the configuration is at version ${running + 1}, not ${running}`);
      expect((await admin('/config')).destinations.find((d: any) => d.name === 'shop').subscriptions[0].mapping.metric_name).toEqual({
        '@path': '$.properties.metric',
      });
      // Loaded again, redone, applied.
      await editor.getByTestId('edit-reload').click();
      await until(
        () => mapping.inputValue(),
        (v) => v.includes('$.properties.metric'),
      );
      await mapping.fill(JSON.stringify(orderMapping('$.event'), null, 2));
      await check.and(page.locator('[data-state=valid]')).waitFor();
      await editor.getByTestId('edit-apply').click();
      await editor
        .getByTestId('edit-applied')
        .filter({ hasText: `version ${running + 2} is running` })
        .waitFor();
      expect((await admin('/config')).destinations.find((d: any) => d.name === 'shop').subscriptions[0].mapping.metric_name).toEqual({ '@path': '$.event' });

      // How many it fixes, shown before replaying them; then they reach Klaviyo with the new mapping.
      const fixable = editor.getByTestId('fixable-count');
      await fixable.waitFor();
      expect(await fixable.getAttribute('data-fixable')).toBe('2');
      expect(await fixable.textContent()).toContain("2 of shop's 2 dead letters");
      expect((await emuState()).events.some((e: any) => e.unique_id?.startsWith('ui-order-'))).toBe(false);
      await editor.getByTestId('replay-fixable').click();
      await editor.getByTestId('replay-fixable-result').filter({ hasText: 'Replayed 2 dead letters' }).waitFor();
      const s = await until(emuState, (x) => x.events.filter((e: any) => e.unique_id?.startsWith('ui-order-')).length === 2);
      expect(
        s.events
          .filter((e: any) => e.unique_id?.startsWith('ui-order-'))
          .map((e: any) => [e.unique_id, e.metric])
          .sort(),
      ).toEqual([
        ['ui-order-1', 'Order Placed'],
        ['ui-order-2', 'Order Placed'],
      ]);
      expect((await admin('/dead-letters?destination=shop')).deadLetters).toEqual([]);
    });

    it('on a phone-sized screen the navigation folds behind a Menu button and works', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      const toggle = page.getByTestId('menu-toggle');
      await toggle.waitFor();
      expect(await page.getByTestId('nav-live').isVisible()).toBe(false);
      await toggle.click();
      expect(await toggle.getAttribute('aria-expanded')).toBe('true');
      await shot('phone-menu', false);
      await page.getByTestId('nav-dead-letters').click();
      await page.getByTestId('page-dead-letters').waitFor();
      expect(await toggle.getAttribute('aria-expanded')).toBe('false');
      await toggle.click();
      await page.getByTestId('nav-overview').click();
      await page.getByTestId('chart-messages').first().locator('canvas').waitFor();
      await shot('phone', false);

      // No page is wider than the screen (tables scroll inside their own box), even with a long message id and event
      // name in the tester's "Or a recent message" list.
      await send((a) =>
        a.track({
          userId: 'ui-7',
          messageId: `ui-phone-${'0123456789'.repeat(5)}`,
          event: 'A rather long event name on a phone screen',
          context: { traits: { email: 'ui7@example.com' } },
        }),
      );
      const ready: Record<string, () => Promise<unknown>> = {
        overview: () => page.getByTestId('chart-messages').first().locator('canvas').waitFor(),
        live: () => page.getByTestId('live-row').first().waitFor(),
        deliveries: () => page.getByTestId('delivery-row').first().waitFor(),
        'dead-letters': () => page.getByTestId('empty').waitFor(),
        tester: () => page.getByTestId('tester-recent').and(page.locator(':enabled')).waitFor(),
        config: () => page.getByTestId('config-destinations').waitFor(),
      };
      for (const width of [360, 390]) {
        await page.setViewportSize({ width, height: 800 });
        for (const [name, isReady] of Object.entries(ready)) {
          await page.evaluate((n) => (location.hash = `#/${n}`), name);
          await page.getByTestId(`page-${name}`).waitFor();
          await isReady();
          const wide = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: document.documentElement.clientWidth }));
          expect({ name, width, ...wide }).toEqual({ name, width, page: wide.screen, screen: wide.screen });
        }
      }

      // The run passed: with UPDATE_SCREENSHOTS=1 these become the README's screenshots.
      if (process.env.UPDATE_SCREENSHOTS !== '1') return;
      mkdirSync(DOC_SHOTS, { recursive: true });
      for (const name of ['overview', 'live', 'deliveries', 'dead-letters', 'tester', 'config', 'config-edit', 'phone'])
        copyFileSync(join(SHOTS, `${name}.png`), join(DOC_SHOTS, `${name}.png`));
    });

    it('with configEdits "file", the Configuration page says so and its editor is read-only', async () => {
      writeFileSync(configFile, JSON.stringify({ ...serviceConfig('$.event'), configEdits: 'file' }));
      await stopService();
      await startService();
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.reload();
      await go('config');
      const editor = page.getByTestId('config-editor');
      expect(await editor.getByTestId('config-readonly').textContent()).toContain('configEdits: "file"');
      expect(await editor.getByTestId('edit-mapping').getAttribute('readonly')).not.toBeNull();
      expect(await editor.getByTestId('edit-trigger').getAttribute('readonly')).not.toBeNull();
      expect(await editor.getByTestId('edit-apply').count()).toBe(0);
      expect(await editor.getByTestId('edit-test').count()).toBe(0);
    });

    it('is served with the security headers, and nothing it does was blocked by its Content-Security-Policy', async () => {
      const res = await fetch(`${url}/ui/`);
      expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self';.*frame-ancestors 'none'/);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(cspViolations).toEqual([]);
    });
  },
);
