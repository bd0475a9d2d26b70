/**
 * analytics.js served by the service at Segment's CDN paths: the pinned package's standalone bundle and its chunks,
 * nothing else (no path out of its dist folder), with caching headers and the right content type; and Segment's
 * standard snippet, with only its host changed, delivering identify, track and page from a page of another origin
 * in headless Chromium.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { ANALYTICS_DIST } from '../src/ingest/analytics-js.js';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { until } from './helpers/until.js';

const WRITE_KEY = 'snippet_write_key_1';
let svc: RunningService;
let dir: string;
const emuState = async () => (await fetch(`${svc.emulatorUrl}/__emulator/state`)).json() as Promise<any>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-ajs-'));
  svc = await startService(
    loadConfig({
      port: 0,
      dataDir: dir,
      sources: [{ name: 'web', writeKey: WRITE_KEY }],
      destinations: [
        {
          delivery: { flushIntervalMs: 20 },
          // Segment's defaults send no page: a page subscription of its own, beside them.
          extends: 'preset',
          subscriptions: [
            {
              name: 'Page',
              subscribe: 'type = "page"',
              partnerAction: 'trackEvent',
              mapping: {
                profile: { external_id: { '@path': '$.userId' }, anonymous_id: { '@path': '$.anonymousId' } },
                metric_name: 'Viewed Page',
                properties: { '@path': '$.properties' },
                unique_id: { '@path': '$.messageId' },
              },
            },
          ],
        },
      ],
    }),
    createLogger('silent'),
  );
});
afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('analytics.js files', () => {
  it('the loader per write key and the chunks, with content type and caching; gzip when taken', async () => {
    const loader = await fetch(`${svc.url}/analytics.js/v1/${WRITE_KEY}/analytics.min.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(loader.status).toBe(200);
    expect(loader.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(loader.headers.get('cache-control')).toBe('public, max-age=300');
    expect(Buffer.from(await loader.arrayBuffer()).equals(readFileSync(join(ANALYTICS_DIST, 'standalone.js')))).toBe(true);
    const chunk = readdirSync(ANALYTICS_DIST).find((n) => /\.bundle\..*\.js$/.test(n))!;
    const res = await fetch(`${svc.url}/analytics-next/bundles/${chunk}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(ANALYTICS_DIST, chunk)))).toBe(true); // fetch undoes the gzip
    expect(gunzipSync(readFileSync(join(ANALYTICS_DIST, `${chunk}.gz`))).equals(readFileSync(join(ANALYTICS_DIST, chunk)))).toBe(true);
  });

  it('nothing outside the dist folder, nor any file of it that is not a script; unknown write keys get a 404', async () => {
    for (const path of [
      '/analytics-next/bundles/..%2F..%2Fpackage.json',
      '/analytics-next/bundles/%2E%2E%2Fcjs%2Findex.js',
      '/analytics-next/bundles/../../../package.json',
      '/analytics-next/bundles/..%5c..%5cpackage.json',
      '/analytics-next/bundles/index.js.gz',
      '/analytics-next/bundles/nope.js',
      '/analytics-next/bundles/%2Fetc%2Fpasswd',
      `/analytics.js/v1/not_a_key/analytics.min.js`,
    ]) {
      const res = await fetch(`${svc.url}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
    }
  });
});

describe.skipIf(!hasChromium)('Segment’s standard snippet in headless Chromium', () => {
  let site: Server;
  afterAll(() => new Promise((r) => (site ? site.close(r) : r(undefined))));

  it('from a page of another origin, with only its host changed (and analytics._cdn for http): identify, track and page arrive', async () => {
    const host = svc.url.replace(/^https?:\/\//, '');
    // Segment's snippet 5.2.0, as its docs give it; the CDN host changed to the service's.
    const snippet = `!function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.setAttribute("data-global-segment-analytics-key",i);t.src="http://${host}/analytics.js/v1/" + key + "/analytics.min.js";var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};analytics._writeKey="${WRITE_KEY}";;analytics.SNIPPET_VERSION="5.2.0";
analytics._cdn = "${svc.url}";
analytics.load("${WRITE_KEY}");
analytics.identify("snippet-user-1", { email: "snippet@example.com" });
analytics.track("Snippet Clicked", { button: "buy" });
analytics.page();
}}();`;
    site = createServer((req, res) => {
      if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Shop</title><script>${snippet}</script>`);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    const pageUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      await page.goto(`${pageUrl}/`);
      const s = await until(emuState, (st) => st.events.length >= 2 && st.profiles.some((p: any) => p.attributes.email === 'snippet@example.com'), 30_000);
      const user = s.profiles.find((p: any) => p.attributes.external_id === 'snippet-user-1');
      expect(user?.attributes.email).toBe('snippet@example.com');
      expect(s.events.map((e: any) => [e.metric, e.profile_id]).sort()).toEqual([
        ['Snippet Clicked', user.id],
        ['Viewed Page', user.id],
      ]);
      // Everything came from the page or the service: the bundle, its settings, the events.
      for (const u of requested) expect([pageUrl, svc.url]).toContain(new URL(u).origin);
      expect(requested).toContain(`${svc.url}/analytics.js/v1/${WRITE_KEY}/analytics.min.js`);
      expect(requested).toContain(`${svc.url}/v1/projects/${WRITE_KEY}/settings`);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
