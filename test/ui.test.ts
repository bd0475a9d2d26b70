/**
 * The dashboard end to end, in real headless Chromium: events sent with @segment/analytics-node appear in Live
 * events over SSE; a request Klaviyo refuses becomes a dead letter with Klaviyo's error; a broken mapping is
 * fixed in the config, the service restarted, and the dead letters replayed from the UI until Klaviyo has them.
 * Screenshots of every page go to artifacts/screenshots/; with UPDATE_SCREENSHOTS=1 a passing run also copies them
 * to docs/screenshots/ (the README's).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Analytics } from '@segment/analytics-node';
import { startEmulator } from '../src/emulator/index.js';
import { freePort } from './helpers/service-process.js';
import { until } from './helpers/until.js';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = join(root, 'artifacts/screenshots');
const DOC_SHOTS = join(root, 'docs/screenshots');
const TOKEN = 'ui-test-admin-token-0123456789';
const WRITE_KEY = 'ui_test_write_key';
const hasChromium = existsSync(CHROMIUM);

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

describe.skipIf(!hasChromium)(hasChromium ? 'dashboard in headless Chromium' : `dashboard: skipped, ${CHROMIUM} is missing (apt-get install chromium; CI installs it)`, () => {
  let emu: Awaited<ReturnType<typeof startEmulator>>;
  let dataDir: string;
  let configFile: string;
  let port: number;
  let url: string;
  let child: ChildProcess | undefined;
  let childLog = '';
  let browser: Browser;
  let page: Page;

  const startService = async () => {
    childLog = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start', '--port', String(port), '--data-dir', dataDir, '--config', configFile, '--klaviyo-url', emu.url, '--api-key', 'pk_test', '--admin-token', TOKEN], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d) => (childLog = (childLog + d).slice(-4000)));
    const status = await until(async () => (await fetch(`${url}/health`).catch(() => undefined))?.status ?? 0, (s) => s === 200, 20_000);
    if (status !== 200) throw new Error(`the service did not start:\n${childLog}`);
  };
  const stopService = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };

  const admin = async (path: string) => (await fetch(`${url}/admin${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as Promise<any>;
  const emuState = async () => (await fetch(`${emu.url}/__emulator/state`)).json() as Promise<any>;
  const faults = (f: object) => fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
  const send = async (calls: (a: Analytics) => void) => {
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: url, flushAt: 1, maxRetries: 0 });
    calls(analytics);
    await analytics.closeAndFlush();
  };
  const go = async (name: string) => {
    await page.getByTestId(`nav-${name}`).click();
    await page.getByTestId(`page-${name}`).waitFor();
  };
  const shot = (name: string, fullPage = true) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });

  beforeAll(async () => {
    // `npm test` builds the UI first; a bare `vitest run` builds it here.
    if (!existsSync(join(root, 'dist/ui/index.html'))) execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
    mkdirSync(SHOTS, { recursive: true });
    emu = await startEmulator({ port: 0, host: '127.0.0.1' });
    dataDir = mkdtempSync(join(tmpdir(), 'kd-ui-'));
    configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(serviceConfig('$.properties.signupForm')));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await startService();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(15_000);
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
      a.track({ userId: 'ui-1', messageId: 'ui-track-1', event: 'Product Viewed', properties: { sku: 'A1', price: 12 }, context: { traits: { email: 'ui1@example.com' } } });
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
    const s = await until(emuState, (x) => x.events.some((e: any) => e.unique_id === 'ui-track-1') && x.profiles.some((p: any) => p.attributes.first_name === 'Ada'));
    expect(s.events.find((e: any) => e.unique_id === 'ui-track-1').metric).toBe('Product Viewed');
    await shot('live');
  });

  it('shows a request Klaviyo refuses in Dead letters with its error, and as failed in Deliveries', async () => {
    expect((await faults({ rate400: 1 })).status).toBe(200);
    try {
      await send((a) => a.track({ userId: 'ui-2', messageId: 'ui-refused-1', event: 'Cart Viewed', context: { traits: { email: 'ui2@example.com' } } }));
      await until(() => admin('/dead-letters'), (d) => d.deadLetters?.some((x: any) => x.messageId === 'ui-refused-1'));
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
      a.track({ userId: 'ui-3', messageId: 'ui-signup-1', event: 'UI Signup', properties: { plan: 'pro' }, context: { traits: { email: 'ui3@example.com' } } });
      a.track({ userId: 'ui-4', messageId: 'ui-signup-2', event: 'UI Signup', properties: { plan: 'free' }, context: { traits: { email: 'ui4@example.com' } } });
    });
    const d = await until(() => admin('/dead-letters?reason=mapping'), (x) => x.deadLetters?.length === 2);
    expect(d.deadLetters.map((x: any) => x.reason)).toEqual([expect.stringMatching(/mapping failed at .*metric_name/), expect.stringMatching(/mapping failed at .*metric_name/)]);

    // Fix the mapping, restart on the same data dir: the dead letters are still there.
    writeFileSync(configFile, JSON.stringify(serviceConfig('$.event')));
    await stopService();
    await startService();

    await page.reload();
    await go('dead-letters');
    await until(() => page.locator('[data-testid=dead-row]').count(), (n) => n === 3, 5000);
    await shot('dead-letters');
    await page.getByTestId('dead-reason').fill('mapping failed');
    await page.locator('[data-testid=dead-row]').nth(1).waitFor();
    await until(() => page.locator('[data-testid=dead-row]').count(), (n) => n === 2, 5000);
    expect(await page.locator('[data-testid=dead-row][data-message-id="ui-refused-1"]').count()).toBe(0);
    expect(await page.getByTestId('dead-reason-text').first().textContent()).toMatch(/mapping failed at/);
    await shot('dead-letters');

    // One selected…
    await page.locator('[data-testid=dead-row][data-message-id="ui-signup-1"]').getByTestId('dead-select').check();
    await page.getByTestId('replay-selected').click();
    await page.getByTestId('dead-result').filter({ hasText: 'Replayed 1' }).waitFor();
    // …then all that still match the filter.
    await until(() => page.locator('[data-testid=dead-row]').count(), (n) => n === 1, 5000);
    await page.getByTestId('replay-all').click();
    await page.getByTestId('dead-result').filter({ hasText: 'Replayed 1' }).waitFor();
    await page.getByTestId('empty').waitFor();

    const s = await until(emuState, (x) => ['ui-signup-1', 'ui-signup-2'].every((id) => x.events.some((e: any) => e.unique_id === id)));
    expect(s.events.filter((e: any) => e.unique_id?.startsWith('ui-signup-')).map((e: any) => e.metric)).toEqual(['UI Signup', 'UI Signup']);

    // The Klaviyo-refused one is discarded, through the confirm step.
    await page.getByTestId('dead-reason').fill('');
    const refused = page.locator('[data-testid=dead-row][data-message-id="ui-refused-1"]');
    await refused.getByTestId('dead-select').check();
    await page.getByTestId('discard-selected').click();
    await page.getByTestId('confirm-discard').click();
    await page.getByTestId('dead-result').filter({ hasText: 'Discarded 1' }).waitFor();
    expect((await admin('/dead-letters')).deadLetters).toEqual([]);

    await go('deliveries');
    await page.getByTestId('deliveries-profile').fill('ui3@example.com');
    await page.locator('[data-testid=delivery-row][data-status=ok]').first().waitFor();
    expect(await page.locator('[data-testid=delivery-row][data-status=failed]').count()).toBe(0);
    await page.getByTestId('deliveries-profile').fill('');
    await until(() => page.locator('[data-testid=delivery-row][data-status=ok]').count(), (n) => n >= 2, 5000);
  });

  it('the mapping tester points at the field of a bad message', async () => {
    await go('tester');
    await page.getByTestId('tester-input').fill(
      [JSON.stringify({ type: 'track', userId: 'ui-5', event: 'Product Viewed', context: { traits: { email: 'ui5@example.com' } } }), JSON.stringify({ type: 'track', event: 'No user' })].join('\n'),
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

  it('the overview charts render, and the configuration hides secrets', async () => {
    await go('overview');
    await page.getByTestId('chart-messages').locator('canvas').waitFor();
    await page.getByTestId('chart-klaviyo').locator('canvas').waitFor();
    await page.getByTestId('window-24h').click();
    await page.getByTestId('window-24h').and(page.locator('[aria-pressed=true]')).waitFor();
    await page.getByTestId('window-1h').click();
    await shot('overview');

    await go('config');
    await page.getByTestId('config-destinations').waitFor();
    const text = (await page.getByTestId('page-config').textContent()) ?? '';
    expect(text).toContain('upsertProfile');
    expect(text).not.toContain(WRITE_KEY);
    expect(text).not.toContain(TOKEN);
    await shot('config');
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
    await page.getByTestId('chart-messages').locator('canvas').waitFor();
    await shot('phone', false);

    // The run passed: with UPDATE_SCREENSHOTS=1 these become the README's screenshots.
    if (process.env.UPDATE_SCREENSHOTS !== '1') return;
    mkdirSync(DOC_SHOTS, { recursive: true });
    for (const name of ['overview', 'live', 'deliveries', 'dead-letters', 'tester', 'config', 'phone']) copyFileSync(join(SHOTS, `${name}.png`), join(DOC_SHOTS, `${name}.png`));
  });
});
