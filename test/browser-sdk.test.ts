/**
 * The browser SDKs as a site runs them, in real headless Chromium: @segment/analytics-next and
 * @rudderstack/analytics-js (bundled build), the pinned npm packages bundled with vite into a page served from
 * another origin (a second 127.0.0.1 port), pointed at a running `klaviyo-destination start` by their host settings
 * only. Each fetches its settings from the service (never from a vendor's CDN), sends identify, track and page,
 * and the events and the identified profile are asserted in the Klaviyo emulator's state.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { startEmulator } from '../src/emulator/index.js';
import { CHROMIUM, hasChromium, launchChromium } from './helpers/chromium.js';
import { freePort, startCli, stopCli } from './helpers/service-process.js';
import { emulatorState, expectDelivered } from './helpers/emulator-state.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SEGMENT_KEY = 'browser_segment_key';
const RUDDER_KEY = 'browser_rudder_key';
const API_KEY = 'pk_test_browser_sdk_0123456789';

const profile = { email: { '@path': '$.context.traits.email' }, external_id: { '@path': '$.userId' }, anonymous_id: { '@path': '$.anonymousId' } };
const serviceConfig = {
  sources: [
    { name: 'segment-web', writeKey: SEGMENT_KEY, destinations: ['klaviyo'] },
    // A RudderStack site gets RudderStack's Klaviyo destination (its identify puts traits in context.traits).
    { name: 'rudder-web', writeKey: RUDDER_KEY, destinations: ['klaviyo-rudderstack'] },
  ],
  destinations: [
    {
      name: 'klaviyo',
      delivery: { flushIntervalMs: 20 },
      subscriptions: [
        { name: 'Identify', subscribe: 'type = "identify"', partnerAction: 'upsertProfile' },
        {
          name: 'Track',
          subscribe: 'type = "track"',
          partnerAction: 'trackEvent',
          mapping: { profile, metric_name: { '@path': '$.event' }, properties: { '@path': '$.properties' }, unique_id: { '@path': '$.messageId' } },
        },
        {
          name: 'Page',
          subscribe: 'type = "page"',
          partnerAction: 'trackEvent',
          mapping: { profile, metric_name: 'Viewed Page', properties: { '@path': '$.properties' }, unique_id: { '@path': '$.messageId' } },
        },
      ],
    },
    { name: 'klaviyo-rudderstack', preset: 'rudderstack', settings: { apiVersion: 'v2', sendPageAsTrack: true }, delivery: { flushIntervalMs: 20 } },
  ],
};

describe.skipIf(!hasChromium)(
  hasChromium ? 'browser SDKs in headless Chromium' : `browser SDKs: skipped, ${CHROMIUM} is missing (apt-get install chromium; CI installs it)`,
  () => {
    let emu: Awaited<ReturnType<typeof startEmulator>>;
    let dir: string;
    let svcUrl: string;
    let pageUrl: string;
    let child: ChildProcess | undefined;
    let site: Server;
    let browser: Browser;

    const emuState = () => emulatorState(emu.url)();

    /** A fresh browser context (its own cookies and storage, as a new visitor) on the site's page; every URL it requests is recorded. */
    const visit = async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const requests: Array<{ method: string; url: string; contentType?: string }> = [];
      page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), contentType: r.headers()['content-type'] }));
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${pageUrl}/`);
      await page.waitForFunction(() => 'AnalyticsBrowser' in window && 'RudderAnalytics' in window);
      return { page, requests, errors, close: () => context.close() };
    };
    /** Nothing went to a vendor: every request is the page's own or the service's. */
    const expectOnlyOurHosts = (requests: Array<{ url: string }>) => {
      for (const r of requests) expect([pageUrl, svcUrl]).toContain(new URL(r.url).origin);
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'kd-browser-'));
      // The site's bundle: the SDKs from node_modules, as a site's build would include them.
      await build({
        configFile: false,
        logLevel: 'warn',
        root,
        define: { 'process.env.NODE_ENV': '"production"' },
        build: {
          outDir: join(dir, 'site'),
          emptyOutDir: true,
          minify: false,
          lib: { entry: join(root, 'test/fixtures/browser-sdks/sdks.ts'), formats: ['iife'], name: 'sdks', fileName: () => 'sdks.js' },
          rollupOptions: { output: { inlineDynamicImports: true } },
        },
      });
      const bundle = readFileSync(join(dir, 'site/sdks.js'));
      const sitePort = await freePort();
      pageUrl = `http://127.0.0.1:${sitePort}`;
      site = createServer((req, res) => {
        if (req.url === '/sdks.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
        if (req.url === '/')
          return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Shop</title><h1>Shop</h1><script src="/sdks.js"></script>');
        res.writeHead(404).end();
      });
      await new Promise<void>((r) => site.listen(sitePort, '127.0.0.1', r));

      emu = await startEmulator({ port: 0, host: '127.0.0.1' });
      const configFile = join(dir, 'config.json');
      writeFileSync(configFile, JSON.stringify(serviceConfig));
      const port = await freePort();
      svcUrl = `http://127.0.0.1:${port}`;
      child = await startCli(port, [
        '--data-dir',
        join(dir, 'data'),
        '--config',
        configFile,
        '--klaviyo-url',
        emu.url,
        '--api-key',
        API_KEY,
        '--cors-origins',
        pageUrl,
      ]);
      browser = await launchChromium();
    }, 90_000);

    afterAll(async () => {
      await browser?.close();
      await stopCli(child);
      await new Promise((r) => (site ? site.close(r) : r(undefined)));
      await emu?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('analytics.js (@segment/analytics-next) with only cdnURL set: settings, then identify, track and page on the short paths', async () => {
      const v = await visit();
      await v.page.evaluate(
        async ({ writeKey, cdnURL }) => {
          const [analytics] = await (window as any).AnalyticsBrowser.load({ writeKey, cdnURL });
          await analytics.identify('seg-web-1', { email: 'seg.web@example.com', firstName: 'Grace' });
          await analytics.track('Product Viewed', { sku: 'SKU-1', price: 19.5 });
          await analytics.page('Shop', 'Home');
        },
        { writeKey: SEGMENT_KEY, cdnURL: svcUrl },
      );
      const { state: s, profile: p } = await expectDelivered(emuState, 'seg-web-1', { email: 'seg.web@example.com', first_name: 'Grace' }, [
        'Product Viewed',
        'Viewed Page',
      ]);
      expect(s.events.find((e: any) => e.metric === 'Product Viewed' && e.profile_id === p.id).properties).toMatchObject({ sku: 'SKU-1', price: 19.5 });
      // It asked the service for its settings and used the apiHost they name: the short paths, as text/plain.
      const posts = v.requests.filter((r) => r.method === 'POST').map((r) => ({ url: r.url, contentType: r.contentType }));
      expect(v.requests.some((r) => r.method === 'GET' && r.url === `${svcUrl}/v1/projects/${SEGMENT_KEY}/settings`)).toBe(true);
      expect(posts).toEqual(expect.arrayContaining(['i', 't', 'p'].map((x) => ({ url: `${svcUrl}/v1/${x}`, contentType: 'text/plain' }))));
      expectOnlyOurHosts(v.requests);
      expect(v.errors).toEqual([]);
      await v.close();
    });

    it('analytics.js in batching mode sends one /b batch and every event arrives', async () => {
      const v = await visit();
      await v.page.evaluate(
        async ({ writeKey, cdnURL }) => {
          const [analytics] = await (window as any).AnalyticsBrowser.load(
            { writeKey, cdnURL },
            { integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 3, timeout: 60_000 } } } } },
          );
          // Batched calls resolve once queued; the third fills the batch.
          await Promise.all([
            analytics.identify('seg-batch-1', { email: 'seg.batch@example.com', lastName: 'Hopper' }),
            analytics.track('Added to Cart', { sku: 'SKU-2' }),
            analytics.page(),
          ]);
        },
        { writeKey: SEGMENT_KEY, cdnURL: svcUrl },
      );
      await expectDelivered(emuState, 'seg-batch-1', { email: 'seg.batch@example.com', last_name: 'Hopper' }, ['Added to Cart', 'Viewed Page']);
      const posts = v.requests.filter((r) => r.method === 'POST').map((r) => r.url);
      expect(posts).toEqual([`${svcUrl}/v1/b`]);
      expectOnlyOurHosts(v.requests);
      await v.close();
    });

    it('RudderStack JS SDK (bundled) with configUrl and dataPlaneUrl set: sourceConfig, then identify, track and page', async () => {
      const v = await visit();
      await v.page.evaluate(
        ({ writeKey, url }) => {
          const rudder = new (window as any).RudderAnalytics();
          rudder.load(writeKey, url, { configUrl: url, logLevel: 'ERROR' });
          rudder.identify('rs-web-1', { email: 'rs.web@example.com', firstName: 'Ada' });
          rudder.track('Checkout Started', { value: 42 });
          rudder.page('Shop', 'Checkout');
        },
        { writeKey: RUDDER_KEY, url: svcUrl },
      );
      // RudderStack's destination with sendPageAsTrack names a page "Viewed <category> <name> page".
      await expectDelivered(emuState, 'rs-web-1', { email: 'rs.web@example.com', first_name: 'Ada' }, ['Checkout Started', 'Viewed Shop Checkout page']);
      expect(v.requests.some((r) => r.method === 'GET' && r.url.startsWith(`${svcUrl}/sourceConfig/?`))).toBe(true);
      // Basic auth and JSON: every one of these was preflighted and allowed.
      const posts = v.requests.filter((r) => r.method === 'POST').map((r) => r.url);
      expect(posts).toEqual(expect.arrayContaining(['identify', 'track', 'page'].map((x) => `${svcUrl}/v1/${x}`)));
      expectOnlyOurHosts(v.requests);
      await v.close();
    });

    it('RudderStack JS SDK in beacon mode posts to /beacon/v1/batch and every event arrives', async () => {
      const v = await visit();
      await v.page.evaluate(
        ({ writeKey, url }) => {
          const rudder = new (window as any).RudderAnalytics();
          rudder.load(writeKey, url, { configUrl: url, logLevel: 'ERROR', useBeacon: true, beaconQueueOptions: { flushQueueInterval: 200 } });
          rudder.identify('rs-beacon-1', { email: 'rs.beacon@example.com' });
          rudder.track('Product Added', { sku: 'SKU-3' });
          rudder.page();
        },
        { writeKey: RUDDER_KEY, url: svcUrl },
      );
      await expectDelivered(emuState, 'rs-beacon-1', { email: 'rs.beacon@example.com' }, ['Product Added', 'Viewed a Page']);
      const posts = v.requests.filter((r) => r.method === 'POST').map((r) => r.url);
      expect(posts.length).toBeGreaterThan(0);
      expect(posts.every((u) => u === `${svcUrl}/beacon/v1/batch?writeKey=${RUDDER_KEY}`)).toBe(true);
      expectOnlyOurHosts(v.requests);
      await v.close();
    });
  },
);
