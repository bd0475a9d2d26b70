/**
 * The tracking API as the browser SDKs call it: Segment's short paths with text/plain bodies and the write key in
 * the body, RudderStack's beacon path, CORS for pages on other origins (--cors-origins), the settings endpoints
 * naming the public URL, and the hostile-input guarantees of /v1/* (size limits, 4xx, nothing lost) on the new
 * paths. An ingest-only process: what was accepted is read back from the queue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES } from '../src/message/index.js';

const KEY = 'sdk_paths_write_key';
const SHOP = 'http://shop.test:8000';
let dir: string;
let svc: RunningService;
let seen = 0;

/** Messages queued since the last call, leased from the queue as a worker would. */
const queued = async () => {
  await svc.store.routed(); // accepted messages reach the queue through the router (docs/ingest.md)
  const rows = await svc.store.lease('klaviyo', { limit: 1000, leaseMs: 60_000, owner: `test-${seen++}` });
  return rows.map((r) => r.payload as Record<string, any>);
};
const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${svc.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', ...headers },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-sdk-paths-'));
  const config = parseConfig(
    { port: 0, dataDir: dir, role: 'ingest', adminToken: 'admin-token-0123456789', sources: [{ name: 'web', writeKey: KEY }] },
    { corsOrigins: `${SHOP}, https://www.shop.test`, publicUrl: 'https://events.shop.test/kd/' },
  );
  svc = await startService(config, createLogger('silent'));
});
afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("Segment's short paths", () => {
  it('/v1/t|i|p|s|g|a take text/plain JSON with the write key in the body, like the long paths', async () => {
    const calls = {
      t: { type: 'track', event: 'Product Viewed' },
      i: { type: 'identify', traits: { email: 's@example.com' } },
      p: { type: 'page', name: 'Home' },
      s: { type: 'screen', name: 'Cart' },
      g: { type: 'group', groupId: 'g-1' },
      a: { type: 'alias', previousId: 'anon-1' },
    };
    for (const [path, call] of Object.entries(calls)) {
      const res = await post(`/v1/${path}`, JSON.stringify({ ...call, userId: 'short-1', messageId: `short-${path}`, writeKey: KEY }));
      expect({ path, status: res.status, body: await res.json() }).toEqual({ path, status: 200, body: { success: true } });
    }
    const rows = await queued();
    expect(rows.map((m) => [m.messageId, m.type])).toEqual(Object.entries(calls).map(([p, c]) => [`short-${p}`, c.type]));
    // The write key is not kept in the message.
    expect(rows.some((m) => 'writeKey' in m)).toBe(false);
  });

  it('/v1/b takes a text/plain batch (analytics.js batching), Basic auth or the key in the body', async () => {
    // analytics.js's batched dispatcher: each event keeps the writeKey normalize() gave it; the body has one too.
    const batch = [
      { type: 'track', event: 'A', userId: 'b-1', messageId: 'b-1', writeKey: KEY },
      { type: 'identify', userId: 'b-1', messageId: 'b-2', writeKey: KEY },
    ];
    expect((await post('/v1/b', JSON.stringify({ batch, writeKey: KEY, sentAt: new Date().toISOString() }))).status).toBe(200);
    expect(
      (
        await post('/v1/b', JSON.stringify({ batch: [{ ...batch[0], messageId: 'b-3' }] }), {
          authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`,
        })
      ).status,
    ).toBe(200);
    const rows = await queued();
    expect(rows.map((m) => m.messageId)).toEqual(['b-1', 'b-2', 'b-3']);
    expect(rows.some((m) => 'writeKey' in m)).toBe(false);
  });

  it('RudderStack beacons: /beacon/v1/batch with the write key in the query; the query key is taken from beacons only', async () => {
    const body = JSON.stringify({
      batch: [{ type: 'track', event: 'Beacon', anonymousId: 'anon-b', messageId: 'beacon-1' }],
      sentAt: new Date().toISOString(),
    });
    expect((await post(`/beacon/v1/batch?writeKey=${KEY}`, body)).status).toBe(200);
    const elsewhere = await post(`/v1/batch?writeKey=${KEY}`, body);
    expect(elsewhere.status).toBe(401);
    expect((await post('/beacon/v1/batch', body)).status).toBe(401);
    expect((await queued()).map((m) => m.messageId)).toEqual(['beacon-1']);
  });

  it('unknown short paths stay 404', async () => {
    expect((await post('/v1/x', JSON.stringify({ writeKey: KEY }))).status).toBe(404);
    expect((await post('/v1/tt', JSON.stringify({ writeKey: KEY }))).status).toBe(404);
  });
});

describe('CORS', () => {
  const preflight = (path: string, origin: string) =>
    fetch(`${svc.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,anonymousid' },
    });

  it('answers preflights of the tracking API, beacons and sourceConfig for an allowed origin', async () => {
    for (const path of ['/v1/t', '/v1/batch', '/v1/projects/x/settings', '/beacon/v1/batch', '/sourceConfig/']) {
      const res = await preflight(path, SHOP);
      expect({ path, status: res.status }).toEqual({ path, status: 204 });
      expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
      const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/);
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'anonymousid']));
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    }
  });

  it('names the origin on every answer, errors included, so the SDK can read them', async () => {
    const ok = await post('/v1/t', JSON.stringify({ type: 'track', event: 'E', userId: 'c-1', writeKey: KEY }), { origin: 'https://www.shop.test' });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://www.shop.test');
    const bad = await post('/v1/t', JSON.stringify({ type: 'track', event: 'E', userId: 'c-1', writeKey: 'wrong-key-123' }), { origin: SHOP });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('access-control-allow-origin')).toBe(SHOP);
    await queued();
  });

  it('refuses an origin not on --cors-origins, preflight or not, and keeps nothing it sent', async () => {
    const pre = await preflight('/v1/t', 'https://evil.test');
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const res = await post('/v1/t', JSON.stringify({ type: 'track', event: 'E', userId: 'evil-1', writeKey: KEY }), { origin: 'https://evil.test' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error).toMatch(/--cors-origins/);
    expect(await queued()).toEqual([]);
  });

  it('gives the admin API and health no CORS', async () => {
    const pre = await fetch(`${svc.url}/admin/config`, { method: 'OPTIONS', headers: { origin: SHOP, 'access-control-request-method': 'GET' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.status).toBe(404);
    const admin = await fetch(`${svc.url}/admin/config`, { headers: { origin: SHOP, authorization: 'Bearer admin-token-0123456789' } });
    expect(admin.status).toBe(200);
    expect(admin.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${svc.url}/health`, { headers: { origin: SHOP } })).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('settings endpoints', () => {
  it("Segment's settings name the public URL as apiHost, with Segment.io the only integration", async () => {
    const res = await fetch(`${svc.url}/v1/projects/${KEY}/settings`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.integrations).toEqual({ 'Segment.io': { apiKey: KEY, apiHost: 'events.shop.test/kd/v1', protocol: 'https' } });
    expect(body.metrics).toEqual({ sampleRate: 0 });
    expect(body.remotePlugins).toEqual([]);
    expect((await fetch(`${svc.url}/v1/projects/not-our-key/settings`)).status).toBe(404);
  });

  it("RudderStack's sourceConfig has no destination and names the public URL as data plane", async () => {
    const res = await fetch(`${svc.url}/sourceConfig/?p=browser&v=3.0.0&writeKey=${KEY}`);
    const body = (await res.json()) as any;
    expect(body.source).toMatchObject({
      writeKey: KEY,
      enabled: true,
      destinations: [],
      dataplanes: { US: [{ url: 'https://events.shop.test/kd', default: true }] },
    });
    expect((await fetch(`${svc.url}/sourceConfig?p=ios`)).status).toBe(401);
  });
});

describe('hostile input on the new paths', () => {
  it('a text/plain body over the batch limit is a 413 on /v1/b and on beacons, and nothing of it is kept', async () => {
    const huge = JSON.stringify({
      writeKey: KEY,
      batch: Array.from({ length: 40 }, (_, i) => ({
        type: 'track',
        event: 'Big',
        userId: 'h-1',
        messageId: `huge-${i}`,
        properties: { pad: 'x'.repeat(16 * 1024) },
      })),
    });
    expect(huge.length).toBeGreaterThan(MAX_BATCH_BYTES);
    expect((await post('/v1/b', huge)).status).toBe(413);
    expect((await post(`/beacon/v1/batch?writeKey=${KEY}`, huge)).status).toBe(413);
    // Compressed small, inflated past the limit.
    expect((await post('/v1/b', gzipSync(huge), { 'content-encoding': 'gzip' })).status).toBe(413);
    expect(await queued()).toEqual([]);
  });

  it('a message over the message limit on /v1/t is a 413; broken JSON on /v1/i a 400', async () => {
    const res = await post(
      '/v1/t',
      JSON.stringify({ type: 'track', event: 'Big', userId: 'h-2', writeKey: KEY, properties: { pad: 'x'.repeat(MAX_MESSAGE_BYTES) } }),
    );
    expect(res.status).toBe(413);
    const broken = await post('/v1/i', '{"type":"identify","userId":');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as any).error).toMatch(/not valid JSON/);
    expect(await queued()).toEqual([]);
  });

  it('a bad message in a /v1/b batch is reported by index and the good ones are kept', async () => {
    const res = await post(
      '/v1/b',
      JSON.stringify({
        writeKey: KEY,
        batch: [
          { type: 'track', event: 'Good', userId: 'h-3', messageId: 'good-b' },
          { type: 'track', event: 'No user' },
          { type: 'nonsense', userId: 'h-3' },
        ],
      }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r: any) => r.index)).toEqual([1, 2]);
    expect((await queued()).map((m) => m.messageId)).toEqual(['good-b']);
  });
});

describe('configuration', () => {
  it('--cors-origins takes a comma-separated list and names itself when an origin is malformed', () => {
    expect(parseConfig({}).corsOrigins).toEqual(['*']);
    expect(parseConfig({}, { corsOrigins: 'https://a.test, http://b.test:8080' }).corsOrigins).toEqual(['https://a.test', 'http://b.test:8080']);
    expect(() => parseConfig({}, { corsOrigins: 'https://a.test/path' })).toThrow(/--cors-origins \/ CORS_ORIGINS: an origin is/);
    expect(() => parseConfig({ corsOrigins: ['shop.test'] })).toThrow(/corsOrigins\.0: an origin is/);
    expect(() => parseConfig({}, { publicUrl: 'ftp://x.test' })).toThrow(/--public-url \/ PUBLIC_URL/);
  });
});
