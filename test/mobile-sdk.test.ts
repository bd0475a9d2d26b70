/**
 * The mobile SDKs' uploads, recorded from their HTTP clients' source and replayed against the running service:
 * each request has the method, path, headers, encoding and body layout that the named source file builds. Each
 * SDK first fetches its settings from the service (as its settings URL pointed here would), then uploads a batch
 * built as it builds one; the events and the identified profile are asserted in the Klaviyo emulator's state.
 *
 * Segment's mobile SDKs always prepend https:// to the apiHost the settings name (a TLS proxy in front of the
 * service in production); here the same host is called over plain http.
 */
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { emulatorState, expectDelivered, metricsOf, profileOf } from './helpers/emulator-state.js';
import { until } from './helpers/until.js';

const SEGMENT_KEY = 'mobile_segment_key';
const RUDDER_KEY = 'mobile_rudder_key';
let dir: string;
let svc: RunningService;

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const state = () => emulatorState(svc.emulatorUrl!)();

/** One raw HTTP/1.1 request, headers exactly as given (no added Content-Length when the body is streamed in chunks). */
function send(opts: {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  chunked?: boolean;
}): Promise<{ status: number; body: any }> {
  const { port } = new URL(svc.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: opts.method,
        path: opts.path,
        headers: { ...opts.headers, ...(opts.body && !opts.chunked ? { 'content-length': String(opts.body.length) } : {}) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    if (opts.body && opts.chunked) {
      // Written in pieces, as a streaming client (HttpURLConnection in chunked mode) sends it.
      const half = Math.floor(opts.body.length / 2);
      req.write(opts.body.subarray(0, half));
      req.end(opts.body.subarray(half));
    } else req.end(opts.body);
  });
}

/** The apiHost the Segment settings name, as the mobile SDKs read it (integrations['Segment.io'].apiHost). */
async function segmentApiPath(headers: Record<string, string>): Promise<string> {
  const res = await send({ method: 'GET', path: `/v1/projects/${SEGMENT_KEY}/settings`, headers });
  expect(res.status).toBe(200);
  const apiHost: string = res.body.integrations['Segment.io'].apiHost;
  expect(apiHost).toBe(`${new URL(svc.url).host}/v1`);
  return apiHost.slice(apiHost.indexOf('/'));
}

const now = () => new Date().toISOString();
/** A Segment mobile event as the SDKs serialise one (type, ids, timestamp, context, integrations, _metadata). */
const segmentEvent = (library: string, e: Record<string, unknown>) => ({
  anonymousId: 'a1b2c3d4-0000-4000-8000-000000000001',
  messageId: `${library}-${e.type}-${Math.random().toString(36).slice(2)}`,
  timestamp: now(),
  context: {
    library: { name: library, version: '1.0.0' },
    app: { name: 'Shop', version: '3.1', build: '31' },
    device: { manufacturer: 'Apple', model: 'iPhone15,2', type: 'ios' },
    os: { name: 'iOS', version: '17.4' },
    locale: 'en-US',
    timezone: 'Europe/Berlin',
    network: { wifi: true },
  },
  integrations: {},
  _metadata: { bundled: [], unbundled: [], bundledIds: [] },
  ...e,
});
/** A RudderStack mobile message (RudderMessage / the Kotlin SDK's Event): traits in context.traits, channel mobile. */
const rudderMessage = (library: string, e: Record<string, unknown>) => ({
  messageId: `${library}-${e.type}-${Math.random().toString(36).slice(2)}`,
  channel: 'mobile',
  anonymousId: 'f0e1d2c3-0000-4000-8000-000000000002',
  originalTimestamp: now(),
  context: {
    library: { name: library, version: '1.0.0' },
    app: { name: 'Shop', version: '3.1', build: '31', namespace: 'com.example.shop' },
    os: { name: 'Android', version: '14' },
    device: { manufacturer: 'Google', model: 'Pixel 8' },
    locale: 'en-US',
    timezone: 'Europe/Berlin',
    traits: { anonymousId: 'f0e1d2c3-0000-4000-8000-000000000002', ...((e.traits as object) ?? {}) },
  },
  integrations: { All: true },
  ...e,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-mobile-'));
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    adminToken: 'admin-token-0123456789',
    sources: [
      { name: 'segment-app', writeKey: SEGMENT_KEY, destinations: ['klaviyo'] },
      { name: 'rudder-app', writeKey: RUDDER_KEY, destinations: ['klaviyo-rudderstack'] },
    ],
    destinations: [
      { name: 'klaviyo', delivery: { flushIntervalMs: 20 } },
      { name: 'klaviyo-rudderstack', preset: 'rudderstack', settings: { apiVersion: 'v2' }, delivery: { flushIntervalMs: 20 } },
    ],
  });
  svc = await startService(config, createLogger('silent'));
});
afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("Segment's mobile SDKs", () => {
  it('analytics-swift: settings from cdnHost, then the batch file POSTed to https://<apiHost>/b as JSON', async () => {
    // Sources/Segment/Utilities/Networking/HTTPClient.swift: configuredRequest() sets these headers on both calls;
    // settingsFor() GETs https://<cdnHost>/projects/<writeKey>/settings; startBatchUpload() POSTs the file to /b.
    const headers = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'analytics-ios/1.7.0', 'accept-encoding': 'gzip' };
    const api = await segmentApiPath(headers);
    // Sources/Segment/Utilities/Storage/Types/DirectoryStore.swift: the file starts `{ "batch": [`, each later event
    // on its own line after a comma, and finishFile() ends it with sentAt and the write key (no Authorization).
    const events = [
      segmentEvent('analytics-ios', { type: 'identify', userId: 'swift-1', traits: { email: 'swift@example.com', firstName: 'Tim' } }),
      segmentEvent('analytics-ios', {
        type: 'track',
        userId: 'swift-1',
        event: 'Product Viewed',
        properties: { sku: 'IOS-1' },
        context: { traits: { email: 'swift@example.com' } },
      }),
    ];
    const file = `{ "batch": [\n${events.map((e, i) => (i ? ',' : '') + JSON.stringify(e)).join('\n')}\n],"sentAt":"${now()}","writeKey":"${SEGMENT_KEY}"}\n`;
    const res = await send({ method: 'POST', path: `${api}/b`, headers, body: Buffer.from(file) });
    expect(res).toEqual({ status: 200, body: { success: true } });
    await expectDelivered(state, 'swift-1', { email: 'swift@example.com', first_name: 'Tim' }, ['Product Viewed']);
  });

  it('analytics-kotlin: the batch gzipped, as text/plain, streamed in chunks to /b', async () => {
    // core/src/main/java/com/segment/analytics/kotlin/core/HTTPClient.kt: RequestFactory.settings() GETs
    // https://<cdnHost>/projects/<writeKey>/settings; upload() POSTs https://<apiHost>/b with Content-Type text/plain,
    // Content-Encoding gzip and setChunkedStreamingMode(0), the body through a GZIPOutputStream.
    const api = await segmentApiPath({ 'content-type': 'application/json; charset=utf-8', 'user-agent': 'analytics-kotlin/1.19.0' });
    // core/.../utilities/StorageImpl.kt: begin `{"batch":[`, events comma-separated, end `],"sentAt":…,"writeKey":…}`.
    const events = [
      segmentEvent('analytics-kotlin', { type: 'identify', userId: 'kotlin-1', traits: { email: 'kotlin@example.com', lastName: 'Lovelace' } }),
      segmentEvent('analytics-kotlin', {
        type: 'track',
        userId: 'kotlin-1',
        event: 'Checkout Started',
        properties: { value: 30 },
        context: { traits: { email: 'kotlin@example.com' } },
      }),
    ];
    const body = gzipSync(`{"batch":[${events.map((e) => JSON.stringify(e)).join(',')}],"sentAt":"${now()}","writeKey":"${SEGMENT_KEY}"}`);
    const res = await send({
      method: 'POST',
      path: `${api}/b`,
      headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'transfer-encoding': 'chunked', 'user-agent': 'analytics-kotlin/1.19.0' },
      body,
      chunked: true,
    });
    expect(res).toEqual({ status: 200, body: { success: true } });
    await expectDelivered(state, 'kotlin-1', { email: 'kotlin@example.com', last_name: 'Lovelace' }, ['Checkout Started']);
  });

  it('analytics-react-native: settings through cdnProxy, then {batch, sentAt, writeKey} as JSON to /b, a retry with X-Retry-Count', async () => {
    // packages/core/src/analytics.ts getEndpointForSettings(): cdnProxy + `/projects/<writeKey>/settings` (with
    // useSegmentEndpoints); plugins/SegmentDestination.ts update(): `https://${apiHost}/b` from the settings.
    const api = await segmentApiPath({});
    // packages/core/src/api.ts uploadEvents(): Content-Type application/json; charset=utf-8, X-Retry-Count only on
    // retries, body JSON.stringify({batch, sentAt, writeKey}).
    const events = [
      segmentEvent('analytics-react-native', { type: 'identify', userId: 'rn-1', traits: { email: 'rn@example.com', firstName: 'Margaret' } }),
      segmentEvent('analytics-react-native', { type: 'screen', userId: 'rn-1', name: 'Cart', properties: {} }),
      segmentEvent('analytics-react-native', {
        type: 'track',
        userId: 'rn-1',
        event: 'Added to Cart',
        properties: { sku: 'RN-1' },
        context: { traits: { email: 'rn@example.com' } },
      }),
    ];
    const body = Buffer.from(JSON.stringify({ batch: events, sentAt: now(), writeKey: SEGMENT_KEY }));
    for (const retry of [undefined, '1']) {
      const res = await send({
        method: 'POST',
        path: `${api}/b`,
        headers: { 'content-type': 'application/json; charset=utf-8', ...(retry ? { 'x-retry-count': retry } : {}) },
        body,
      });
      expect(res).toEqual({ status: 200, body: { success: true } });
    }
    // The retried batch carries the same messageIds: Klaviyo counts the event once.
    await expectDelivered(state, 'rn-1', { email: 'rn@example.com', first_name: 'Margaret' }, ['Added to Cart']);
  });
});

describe('push tokens from the mobile SDKs (issue 30)', () => {
  const tokensOf = (s: any, p: any) => (p ? s.push_tokens.filter((t: any) => t.profile_id === p.id) : []);

  it('analytics-swift: an identify carrying context.device.token registers the APNs token on its profile, with the device', async () => {
    const headers = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'analytics-ios/1.7.0', 'accept-encoding': 'gzip' };
    const api = await segmentApiPath(headers);
    // Sources/Segment/Plugins/DeviceToken.swift: analytics.setDeviceToken() puts the hex token in context.device.token
    // of every later event.
    const base = segmentEvent('analytics-ios', {});
    const identify = segmentEvent('analytics-ios', {
      type: 'identify',
      userId: 'swift-push',
      traits: { email: 'push@example.com' },
      context: { ...base.context, device: { ...base.context.device, id: 'ios-device-1', token: 'a1b2c3d4e5f6' } },
    });
    const file = `{ "batch": [\n${JSON.stringify(identify)}\n],"sentAt":"${now()}","writeKey":"${SEGMENT_KEY}"}\n`;
    expect(await send({ method: 'POST', path: `${api}/b`, headers, body: Buffer.from(file) })).toEqual({ status: 200, body: { success: true } });
    const s = await until(state, (x) => tokensOf(x, profileOf(x, 'swift-push')).length >= 1);
    expect(profileOf(s, 'swift-push').attributes).toMatchObject({ email: 'push@example.com' });
    expect(tokensOf(s, profileOf(s, 'swift-push'))).toEqual([
      expect.objectContaining({
        token: 'a1b2c3d4e5f6',
        platform: 'ios',
        vendor: 'apns',
        enablement_status: 'AUTHORIZED',
        device_metadata: {
          device_id: 'ios-device-1',
          device_model: 'iPhone15,2',
          manufacturer: 'Apple',
          os_name: 'ios',
          os_version: '17.4',
          app_name: 'Shop',
          app_version: '3.1',
          app_build: '31',
        },
      }),
    ]);
  });

  it('rudder-sdk-android: the FCM token of an Application Opened, DENIED by the consent the SDK reports', async () => {
    await send({ method: 'GET', path: '/sourceConfig?p=android&v=1.25.1&bv=34', headers: { authorization: basic(RUDDER_KEY) } });
    const base = rudderMessage('com.rudderstack.android.sdk.core', {});
    const context = {
      ...base.context,
      device: { ...base.context.device, id: 'droid-device-1', token: 'fcm-token-1' },
      traits: { ...base.context.traits, email: 'droidpush@example.com' },
      consentManagement: { provider: 'custom', allowedConsentIds: ['analytics'], deniedConsentIds: ['push_notifications'] },
    };
    const messages = [
      rudderMessage('com.rudderstack.android.sdk.core', { type: 'identify', event: 'identify', userId: 'droid-push', context }),
      rudderMessage('com.rudderstack.android.sdk.core', { type: 'track', event: 'Application Opened', userId: 'droid-push', context }),
    ];
    const res = await send({
      method: 'POST',
      path: '/v1/batch',
      headers: { authorization: basic(RUDDER_KEY), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ sentAt: now(), batch: messages })),
    });
    expect(res).toEqual({ status: 200, body: { success: true } });
    const s = await until(state, (x) => tokensOf(x, profileOf(x, 'droid-push')).length >= 1);
    expect(tokensOf(s, profileOf(s, 'droid-push'))).toEqual([
      expect.objectContaining({
        token: 'fcm-token-1',
        platform: 'android',
        vendor: 'fcm',
        enablement_status: 'DENIED',
        device_metadata: expect.objectContaining({ os_name: 'android', device_model: 'Pixel 8', app_id: 'com.example.shop' }),
      }),
    ]);
    // The identify and the app open carry the same token: one token, on one profile.
    expect(s.push_tokens.filter((t: any) => t.token === 'fcm-token-1')).toHaveLength(1);
  });
});

describe("RudderStack's mobile SDKs", () => {
  const sourceConfig = async (path: string) => {
    const res = await send({ method: 'GET', path, headers: { authorization: basic(RUDDER_KEY) } });
    expect(res.status).toBe(200);
    // Every field the Kotlin and Swift SDKs' SourceConfig models require (a missing one fails their decoding):
    // rudder-sdk-kotlin core/.../models/SourceConfig.kt, rudder-sdk-swift Sources/.../SourceConfig/SourceConfig.swift.
    expect(res.body.source).toMatchObject({
      id: expect.any(String),
      name: 'rudder-app',
      writeKey: RUDDER_KEY,
      enabled: true,
      workspaceId: expect.any(String),
      updatedAt: expect.any(String),
      config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
      destinations: [],
    });
    expect(res.body.source.dataplanes.US[0].url).toBe(svc.url);
    return res.body;
  };

  it('rudder-sdk-android: sourceConfig, then a gzipped batch to /v1/batch with Basic auth and the AnonymousId header', async () => {
    // core/.../RudderServerConfigManager.java: GET <controlPlaneUrl>/sourceConfig?p=android&v=…&bv=… with Basic auth.
    await sourceConfig('/sourceConfig?p=android&v=1.25.1&bv=34');
    // core/.../RudderNetworkManager.java: POST <dataPlaneUrl>/v1/batch, Authorization Basic base64(writeKey:),
    // Content-Type application/json, AnonymousId base64(anonymousId), Content-Encoding gzip (on by default);
    // core/.../FlushUtils.java getPayloadFromMessages(): {"sentAt":…,"batch": [each message with its sentAt]}.
    const sentAt = now();
    const messages = [
      rudderMessage('com.rudderstack.android.sdk.core', {
        type: 'identify',
        event: 'identify',
        userId: 'droid-1',
        traits: { email: 'droid@example.com', firstName: 'Katherine' },
      }),
      rudderMessage('com.rudderstack.android.sdk.core', {
        type: 'track',
        event: 'Order Completed',
        userId: 'droid-1',
        properties: { order_id: 'A-1', revenue: 10 },
      }),
    ];
    const payload = `{"sentAt":"${sentAt}","batch": [${messages.map((m) => JSON.stringify(m).slice(0, -1) + `,"sentAt":"${sentAt}"}`).join(',')}]}`;
    const res = await send({
      method: 'POST',
      path: '/v1/batch',
      headers: {
        authorization: basic(RUDDER_KEY),
        'content-type': 'application/json',
        anonymousid: Buffer.from(messages[0].anonymousId).toString('base64'),
        'content-encoding': 'gzip',
      },
      body: gzipSync(payload),
    });
    expect(res).toEqual({ status: 200, body: { success: true } });
    const s = await until(state, (x) => metricsOf(x, profileOf(x, 'droid-1')).length >= 1);
    expect(profileOf(s, 'droid-1').attributes).toMatchObject({ email: 'droid@example.com', first_name: 'Katherine' });
    expect(metricsOf(s, profileOf(s, 'droid-1'))).toContain('Order Completed');
  });

  it('rudder-sdk-ios: sourceConfig, then a plain JSON batch to /v1/batch', async () => {
    // Sources/Classes/RSNetworkManager.m: getEndpointPath() sourceConfig?p=ios&v=… and v1/batch; Basic auth on
    // both; POST adds Content-Type application/json and AnonymousId, gzip only when config.gzip is set.
    await sourceConfig('/sourceConfig?p=ios&v=1.31.0');
    // Sources/Classes/RSCloudModeManager.m getPayloadFromMessages(): {"sentAt":…,"batch":[…each with sentAt]}.
    const sentAt = now();
    const messages = [
      rudderMessage('rudder-ios-library', { type: 'identify', event: 'identify', userId: 'ios-1', traits: { email: 'ios@example.com', lastName: 'Johnson' } }),
      rudderMessage('rudder-ios-library', { type: 'track', event: 'Product Viewed', userId: 'ios-1', properties: { sku: 'IOS-2' } }),
    ];
    const payload = `{"sentAt":"${sentAt}","batch":[${messages.map((m) => JSON.stringify({ ...m, sentAt })).join(',')}]}`;
    const res = await send({
      method: 'POST',
      path: '/v1/batch',
      headers: { authorization: basic(RUDDER_KEY), 'content-type': 'application/json', anonymousid: Buffer.from(messages[0].anonymousId).toString('base64') },
      body: Buffer.from(payload),
    });
    expect(res).toEqual({ status: 200, body: { success: true } });
    await expectDelivered(state, 'ios-1', { email: 'ios@example.com', last_name: 'Johnson' }, ['Product Viewed']);
  });

  it('rudder-sdk-kotlin: sourceConfig with writeKey in the query, then a gzipped {batch, sentAt} with retry headers', async () => {
    // core/.../SourceConfigManager.kt: GET <controlPlaneUrl>/sourceConfig?p=android&v=…&writeKey=…&bv=…, Basic auth.
    await sourceConfig(`/sourceConfig?p=android&v=1.2.0&writeKey=${RUDDER_KEY}&bv=34`);
    // core/.../network/HttpClientImpl.kt: POST <dataPlaneUrl>/v1/batch (queue/EventUpload.kt), Content-Type
    // application/json, AnonymousId, Content-Encoding gzip (gzipEnabled by default), Basic auth; a retried
    // upload adds the Rsa-Retry-* headers; storage/EventBatchFileManager.kt: `{"batch":[` … `],"sentAt":"…"}`.
    const messages = [
      rudderMessage('com.rudderstack.sdk.kotlin', { type: 'identify', userId: 'rk-1', traits: { email: 'rk@example.com', firstName: 'Dorothy' } }),
      rudderMessage('com.rudderstack.sdk.kotlin', { type: 'track', event: 'Cart Viewed', userId: 'rk-1', properties: { items: 2 } }),
    ];
    const body = gzipSync(`{"batch":[${messages.map((m) => JSON.stringify(m)).join(',')}],"sentAt":"${now()}"}`);
    const res = await send({
      method: 'POST',
      path: '/v1/batch',
      headers: {
        authorization: basic(RUDDER_KEY),
        'content-type': 'application/json',
        anonymousid: messages[0].anonymousId,
        'content-encoding': 'gzip',
        'rsa-retry-attempt': '1',
        'rsa-since-last-attempt': '2000',
        'rsa-retry-reason': 'server-500',
      },
      body,
    });
    expect(res).toEqual({ status: 200, body: { success: true } });
    await expectDelivered(state, 'rk-1', { email: 'rk@example.com', first_name: 'Dorothy' }, ['Cart Viewed']);
  });

  it('rudder-sdk-swift: sourceConfig with writeKey in the query, then a gzipped {batch, sentAt}', async () => {
    // Sources/RudderStackAnalytics/Network/HttpClient.swift: <controlPlaneUrl>/sourceConfig with the default query
    // and writeKey, <dataPlaneUrl>/v1/batch; Content-Type application/json and Basic auth on both, AnonymousId and
    // (gzipEnabled by default) Content-Encoding gzip on uploads; Storage/Store/DataStore.swift: `{"batch":[` …
    // `],"sentAt":"…"}`.
    await sourceConfig(`/sourceConfig?p=ios&v=1.0.0&writeKey=${RUDDER_KEY}`);
    const messages = [
      rudderMessage('com.rudderstack.ios.sdk', { type: 'identify', userId: 'rsw-1', traits: { email: 'rsw@example.com', lastName: 'Hamilton' } }),
      rudderMessage('com.rudderstack.ios.sdk', { type: 'track', event: 'Subscription Started', userId: 'rsw-1', properties: { plan: 'pro' } }),
    ];
    const body = gzipSync(`{"batch":[${messages.map((m) => JSON.stringify(m)).join(',')}],"sentAt":"${now()}"}`);
    const res = await send({
      method: 'POST',
      path: '/v1/batch',
      headers: { authorization: basic(RUDDER_KEY), 'content-type': 'application/json', anonymousid: messages[0].anonymousId, 'content-encoding': 'gzip' },
      body,
    });
    expect(res).toEqual({ status: 200, body: { success: true } });
    await expectDelivered(state, 'rsw-1', { email: 'rsw@example.com', last_name: 'Hamilton' }, ['Subscription Started']);
  });

  it('a wrong write key is answered with the text the SDKs stop on ("invalid write key"), not retried forever', async () => {
    // rudder-sdk-android RudderNetworkManager.getResult(): an error body containing "invalid write key" → WRITE_KEY_ERROR,
    // which ends the upload loop; any other error is retried.
    const res = await send({
      method: 'POST',
      path: '/v1/batch',
      headers: { authorization: basic('not-a-key-of-ours'), 'content-type': 'application/json' },
      body: Buffer.from('{"batch":[]}'),
    });
    expect(res.status).toBe(401);
    expect(String(res.body.error).toLowerCase()).toContain('invalid write key');
    const cfg = await send({ method: 'GET', path: '/sourceConfig?p=ios&v=1', headers: { authorization: basic('not-a-key-of-ours') } });
    expect(cfg.status).toBe(401);
    expect(String(cfg.body.error).toLowerCase()).toContain('invalid write key');
  });
});
