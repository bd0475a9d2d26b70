/**
 * The service as users run it: real SDKs → ingest → SQLite queue → delivery worker → Klaviyo emulator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Analytics } from '@segment/analytics-node';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { until } from './helpers/until.js';
import { testStoreUrl } from './helpers/test-store.js';

const RudderAnalytics = createRequire(import.meta.url)('@rudderstack/rudder-sdk-node');
const WRITE_KEY = 'test_write_key_123';
let dir: string;
let svc: RunningService;

const state = async () => (await fetch(`${svc.emulatorUrl}/__emulator/state`)).json() as Promise<any>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-svc-'));
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    store: await testStoreUrl(),
    adminToken: 'admin-token-0123456789',
    sources: [{ name: 'web', writeKey: WRITE_KEY }],
    destinations: [{ name: 'klaviyo', delivery: { flushIntervalMs: 20 } }],
  });
  svc = await startService(config, createLogger('silent'));
});
afterAll(async () => {
  await svc.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('klaviyo-destination start', () => {
  it('accepts events from @segment/analytics-node and they appear in Klaviyo', async () => {
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: svc.url, flushAt: 3, maxRetries: 0 });
    analytics.identify({ userId: 'seg-1', traits: { email: 'seg@example.com', firstName: 'Seg' } });
    analytics.track({ userId: 'seg-1', event: 'Product Viewed', properties: { sku: 'A1' }, context: { traits: { email: 'seg@example.com' } } });
    analytics.track({
      userId: 'seg-1',
      event: 'Order Completed',
      properties: { order_id: 'ORD-1', revenue: 12, products: [{ product_id: 'A1', price: 12 }] },
      context: { traits: { email: 'seg@example.com' } },
    });
    await analytics.closeAndFlush();
    // Other tests share the emulator: look at this user's profile and events only.
    const mine = (x: any) => {
      const profile = x.profiles.find((p: any) => p.attributes.email === 'seg@example.com');
      return { profile, events: profile ? x.events.filter((e: any) => e.profile_id === profile.id) : [] };
    };
    const { profile, events } = mine(await until(state, (x) => mine(x).events.length >= 3));
    expect(profile.attributes).toMatchObject({ first_name: 'Seg', external_id: 'seg-1' });
    expect(events.map((e: any) => e.metric).sort()).toEqual(['Order Completed', 'Ordered Product', 'Product Viewed']);
  });

  it('accepts gzip batches from @rudderstack/rudder-sdk-node', async () => {
    const client = new RudderAnalytics(WRITE_KEY, { dataPlaneUrl: svc.url, flushAt: 2, logLevel: 'error' });
    client.identify({ userId: 'rs-1', traits: { email: 'rs@example.com' } });
    client.track({ userId: 'rs-1', event: 'Cart Viewed', properties: { items: 2 }, context: { traits: { email: 'rs@example.com' } } });
    await new Promise<void>((resolve) => client.flush(() => resolve()));
    const s = await until(state, (x) => x.events.some((e: any) => e.metric === 'Cart Viewed'));
    const profile = s.profiles.find((p: any) => p.attributes.email === 'rs@example.com');
    expect(profile.attributes).toMatchObject({ email: 'rs@example.com', external_id: 'rs-1' });
    const cart = s.events.find((e: any) => e.metric === 'Cart Viewed');
    expect(cart).toMatchObject({ profile_id: profile.id, properties: { items: 2 } });
  });

  it('refuses a bad write key and reports a bad message by index without losing the good ones', async () => {
    const post = (body: unknown, key = WRITE_KEY) =>
      fetch(`${svc.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
        body: JSON.stringify(body),
      });
    expect((await post({ batch: [] }, 'nope')).status).toBe(401);
    const res = await post({
      batch: [
        { type: 'track', userId: 'b-1', event: 'Good', messageId: 'good-1' },
        { type: 'track', event: 'No user' },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      success: true,
      accepted: 1,
      rejected: [{ index: 1, field: 'batch[1].userId', message: 'every message needs a non-empty userId or anonymousId' }],
    });
    await until(state, (x) => x.events.some((e: any) => e.unique_id === 'good-1'));
  });

  it('cleans hostile text with a warning, and delivers a profile whose phone is invalid without the phone', async () => {
    const auth = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
    const res = await fetch(`${svc.url}/v1/batch`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        batch: [{ type: 'identify', userId: 'q-1', messageId: 'q-msg', traits: { email: ' Q@Example.COM ', phone: '12', title: 'Boss\u0007' } }],
      }),
    });
    const body = (await res.json()) as any;
    expect(body.success).toBe(true);
    expect(body.warnings).toEqual([expect.objectContaining({ index: 0, field: expect.stringContaining('title') })]);
    const s = await until(state, (x) => x.profiles.some((p: any) => p.attributes.external_id === 'q-1'));
    const p = s.profiles.find((x: any) => x.attributes.external_id === 'q-1');
    expect(p.attributes).toMatchObject({ email: 'Q@example.com', title: 'Boss' });
    expect(p.attributes.phone_number).toBeUndefined();
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/kd_plan_warnings_total\{destination="klaviyo",field="phone_number"\} [1-9]/);
  });

  it('dead-letters what Klaviyo rejects, and replays it from the admin API', async () => {
    // A subscription whose mapping always fails for this event: Klaviyo answers 400 to a bad list id.
    const res = await fetch(`${svc.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'dl-1', event: 'Audience Entered', messageId: 'dl-msg', context: { traits: { email: 'not-an-email' } } }),
    });
    expect(res.status).toBe(200);
    const admin = { authorization: 'Bearer admin-token-0123456789' };
    const dead = await until(
      async () => (await (await fetch(`${svc.url}/admin/dead-letters`, { headers: admin })).json()) as any,
      (d) => d.deadLetters.length > 0,
    );
    expect(dead.deadLetters[0]).toMatchObject({ messageId: 'dl-msg', reason: expect.stringMatching(/mapping failed at/) });
    expect((await fetch(`${svc.url}/admin/dead-letters`)).status).toBe(401);
    const replay = await fetch(`${svc.url}/admin/dead-letters/replay`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ all: true }),
    });
    expect(await replay.json()).toEqual({ replayed: 1, dropped: 0 });
  });

  it('reports queue state and delivery rates at /admin/status', async () => {
    const admin = { authorization: 'Bearer admin-token-0123456789' };
    const statusNow = async () => ((await (await fetch(`${svc.url}/admin/status`, { headers: admin })).json()) as any).destinations.klaviyo;
    // Its own traffic, so it passes alone and in any order: 5 events more, then wait until they are delivered.
    const before = (await statusNow())?.delivered ?? 0; // no entry before the destination's first message
    const batch = Array.from({ length: 5 }, (_, i) => ({
      type: 'track',
      userId: `st-${i}`,
      event: 'Status Probe',
      messageId: `status-${i}`,
      context: { traits: { email: `st${i}@x.co` } },
    }));
    const res = await fetch(`${svc.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify({ batch }),
    });
    expect(res.status).toBe(200);
    const k = await until(statusNow, (x) => x?.delivered >= before + 5);
    expect(k.delivered).toBeGreaterThanOrEqual(before + 5);
    expect(k.rates.last5m.delivered).toBeGreaterThan(0);
    expect(k.rates.last5m.received).toBeGreaterThan(0);
    expect(k.rates.last60m.delivered).toBeLessThanOrEqual(k.rates.last5m.delivered);
  });

  it('serves /health and /metrics', async () => {
    // Its own message first, so the counters exist whichever test ran before.
    const res = await fetch(`${svc.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'hm-1', event: 'Metrics Probe', messageId: 'metrics-probe', context: { traits: { email: 'hm@x.co' } } }),
    });
    expect(res.status).toBe(200);
    await until(state, (x) => x.events.some((e: any) => e.unique_id === 'metrics-probe'));
    expect(await (await fetch(`${svc.url}/health`)).json()).toMatchObject({ status: 'ok' });
    const metrics = await until(
      async () => (await fetch(`${svc.url}/metrics`)).text(),
      (m) => /kd_messages_settled_total\{destination="klaviyo",outcome="delivered"\} [1-9]/.test(m),
    );
    expect(metrics).toMatch(/kd_messages_received_total\{source="web"\} [1-9]/);
  });
});
