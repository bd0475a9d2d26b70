/**
 * The admin JSON API behind the dashboard (docs/admin-api.md), against a running service and the emulator:
 * live events (list, stream, detail), deliveries, dead letters with filtered replay, overview, tester, config.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { startEmulator } from '../src/emulator/index.js';
import { registerUi } from '../src/admin/ui.js';
import { until } from './helpers/until.js';

const WRITE_KEY = 'admin_api_write_key';
const TOKEN = 'admin-token-0123456789';
const API_KEY = 'pk_admin_api_secret_0123';
let dir: string;
let svc: RunningService;
let emu: Awaited<ReturnType<typeof startEmulator>>;

const admin = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${svc.url}/admin${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as any };
};
const send = (batch: unknown[]) =>
  fetch(`${svc.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
    body: JSON.stringify({ batch }),
  });
const faults = (f: object) =>
  fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
const emulatorState = async () => (await fetch(`${emu.url}/__emulator/state`)).json() as Promise<any>;
/** Sends a track Klaviyo refuses (an injected 400) and waits for its dead letter. */
const refused = async (userId: string, messageId: string, email: string) => {
  await faults({ rate400: 1 });
  await send([{ type: 'track', userId, messageId, event: 'Refused', context: { traits: { email } } }]);
  // Only this message: another test's stray delivery may also meet the fault.
  const all = await until(
    async () => (await admin('/dead-letters?reason=injected')).body.deadLetters,
    (x) => x.some((d: any) => d.messageId === messageId),
  );
  return all.find((d: any) => d.messageId === messageId);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-admin-'));
  emu = await startEmulator({ port: 0, host: '127.0.0.1', apiKey: API_KEY });
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    adminToken: TOKEN,
    sources: [{ name: 'web', writeKey: WRITE_KEY }],
    destinations: [
      { name: 'klaviyo', apiKey: API_KEY, klaviyoUrl: emu.url, settings: { defaultCountry: 'US' }, delivery: { flushIntervalMs: 20, maxAttempts: 2 } },
    ],
  });
  svc = await startService(config, createLogger('silent'));
});
afterAll(async () => {
  await svc?.stop();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('admin API', () => {
  it('wants the token', async () => {
    expect((await fetch(`${svc.url}/admin/events`)).status).toBe(401);
    expect((await fetch(`${svc.url}/admin/events`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    // The query-string token is for the event stream only (EventSource cannot send headers).
    expect((await fetch(`${svc.url}/admin/events?token=${TOKEN}`)).status).toBe(401);
  });

  it('streams new messages, lists them newest first and shows what each became', async () => {
    // Listen on the stream before sending.
    const ctrl = new AbortController();
    const stream = await fetch(`${svc.url}/admin/events/stream?token=${TOKEN}`, { signal: ctrl.signal });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = stream.body!.getReader();
    let streamed = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        streamed += new TextDecoder().decode(value);
      }
    })().catch(() => {});

    const res = await send([
      { type: 'identify', userId: 'u-live', messageId: 'live-1', traits: { email: ' Live@EXAMPLE.com', phone: '(212) 555-0100' } },
      {
        type: 'track',
        userId: 'u-live',
        messageId: 'live-2',
        event: 'Product Viewed',
        properties: { sku: 'A1' },
        context: { traits: { email: 'live@example.com' } },
      },
    ]);
    expect(res.status).toBe(200);
    await until(
      () => streamed,
      (s) => s.includes('"id":"live-2"'),
    );
    const frames = streamed.split('\n\n').filter((f) => f.startsWith('event: message'));
    expect(frames.map((f) => JSON.parse(f.split('\ndata: ')[1]).id)).toEqual(['live-1', 'live-2']);
    ctrl.abort();
    await reading;

    const list = await admin('/events?limit=10');
    expect(list.body.events.slice(0, 2).map((e: any) => e.id)).toEqual(['live-2', 'live-1']);
    expect(list.body.events[0]).toMatchObject({
      source: 'web',
      destinations: ['klaviyo'],
      type: 'track',
      event: 'Product Viewed',
      userId: 'u-live',
      email: 'live@example.com',
    });
    expect(list.body.events[1].email).toBe('Live@example.com'); // as delivered: trimmed, domain lower-cased
    expect((await admin('/events?q=live@')).body.events.map((e: any) => e.id)).toEqual(['live-2', 'live-1']);

    const detail = await until(
      async () => (await admin('/events/live-2')).body,
      (d) => d.destinations?.[0]?.outcome?.status === 'delivered',
    );
    const d = detail.destinations[0];
    expect(detail.message).toMatchObject({ type: 'track', event: 'Product Viewed' });
    expect(d.preview.actions.map((a: any) => a.action)).toEqual(['trackEvent']);
    expect(d.preview.requests[0]).toMatchObject({ method: 'POST', path: '/api/events' });
    expect(d.deliveries.length).toBeGreaterThan(0);
    expect(d.deliveries[0]).toMatchObject({ destination: 'klaviyo', status: 'ok', actions: ['trackEvent'] });
    expect(d.deliveries[0].messageIds).toContain('live-2');
    expect((await admin('/events/nope')).status).toBe(404);
  });

  it('lists Klaviyo requests, filtered by action, status and profile', async () => {
    // Its own traffic: an identify and a track of one person, delivered.
    expect(
      (
        await send([
          { type: 'identify', userId: 'u-req', messageId: 'req-1', traits: { email: 'Req@example.com' } },
          { type: 'track', userId: 'u-req', messageId: 'req-2', event: 'Requests Probe', context: { traits: { email: 'req@example.com' } } },
        ])
      ).status,
    ).toBe(200);
    const ok = await until(
      async () => (await admin('/deliveries?profile=REQ@example.com')).body.deliveries,
      (d) => d.length >= 2,
    );
    expect(ok.every((r: any) => r.profiles.some((p: string) => p.toLowerCase() === 'req@example.com'))).toBe(true);
    expect(ok[0]).toMatchObject({ httpStatus: expect.any(Number), durationMs: expect.any(Number), items: expect.any(Number) });
    const profiles = (await admin('/deliveries?action=upsertProfile')).body.deliveries;
    expect(profiles.length).toBeGreaterThan(0);
    expect(profiles.every((r: any) => r.actions.includes('upsertProfile'))).toBe(true);
    expect((await admin('/deliveries?status=bogus')).status).toBe(400);
  });

  it('a request Klaviyo refuses becomes a dead letter with its detail; replay by reason delivers it', async () => {
    const dead = await refused('u-dead', 'dead-1', 'dead@example.com');
    expect(dead).toMatchObject({ messageId: 'dead-1', destination: 'klaviyo' });
    expect(dead.reason).toMatch(/Klaviyo rejected it: Injected fault/);
    const failed = (await admin('/deliveries?status=failed&profile=dead@example.com')).body.deliveries;
    expect(failed[0]).toMatchObject({ status: 'failed', httpStatus: 400, messageIds: ['dead-1'] });
    expect(failed[0].error.errors[0]).toMatchObject({ code: 'invalid', detail: expect.stringMatching(/Injected fault/) });
    expect((await admin('/events/dead-1')).body.destinations[0].outcome).toMatchObject({ status: 'dead', error: expect.stringMatching(/Injected fault/) });

    await faults({});
    expect((await admin('/dead-letters/replay', { method: 'POST', body: JSON.stringify({}) })).status).toBe(400);
    expect((await admin('/dead-letters/discard', { method: 'POST', body: JSON.stringify({ all: 'false' }) })).status).toBe(400);
    expect((await admin('/dead-letters/discard', { method: 'POST', body: JSON.stringify({ seqs: Array.from({ length: 10_001 }, (_, i) => i) }) })).status).toBe(
      400,
    );
    expect((await admin('/dead-letters/replay', { method: 'POST', body: JSON.stringify({ all: true, reason: 'no such reason' }) })).body).toEqual({
      replayed: 0,
      dropped: 0,
    });
    const injected = (await admin('/dead-letters?reason=injected')).body.deadLetters.length;
    expect((await admin('/dead-letters/replay', { method: 'POST', body: JSON.stringify({ all: true, reason: 'INJECTED' }) })).body).toEqual({
      replayed: injected,
      dropped: 0,
    });
    const s = await until(emulatorState, (x) => x.events.some((e: any) => e.metric === 'Refused'));
    expect(
      (
        await until(
          async () => (await admin('/events/dead-1')).body.destinations[0].outcome,
          (o) => o.status === 'delivered',
        )
      ).status,
    ).toBe('delivered');
    expect(s.events.filter((e: any) => e.metric === 'Refused')).toHaveLength(1);
    expect((await admin('/dead-letters?reason=injected')).body.deadLetters).toEqual([]);
  });

  it('a discarded dead letter is not reported as delivered', async () => {
    const dl = await refused('u-gone', 'gone-1', 'gone@example.com');
    await faults({});
    expect((await admin('/dead-letters/discard', { method: 'POST', body: JSON.stringify({ seqs: [dl.seq] }) })).body).toEqual({ discarded: 1 });
    expect((await admin('/events/gone-1')).body.destinations[0].outcome).toMatchObject({ status: 'unknown', error: expect.stringMatching(/discarded/) });
  });

  it('overview: per-minute series from the store, Klaviyo traffic and rate-limit headroom', async () => {
    const klaviyo = async () => (await admin('/overview')).body.destinations.find((d: any) => d.name === 'klaviyo');
    const sum = (k: any, f: string) => k.series.reduce((n: number, p: any) => n + p[f], 0);
    const totals = (k: any) => ({ received: sum(k, 'received'), delivered: sum(k, 'delivered'), dead: sum(k, 'dead') });
    // Its own traffic, measured as a difference, so it passes alone and in any order: one delivered, one dead letter.
    const before = totals(await klaviyo());
    await send([{ type: 'track', userId: 'u-ov', messageId: 'ov-1', event: 'Overview Probe', context: { traits: { email: 'ov@example.com' } } }]);
    await until(klaviyo, (k) => sum(k, 'delivered') === before.delivered + 1);
    await faults({ rate400: 1 });
    await send([{ type: 'track', userId: 'u-ov2', messageId: 'ov-2', event: 'Overview Probe', context: { traits: { email: 'ov2@example.com' } } }]);
    const k = await until(klaviyo, (x) => sum(x, 'dead') === before.dead + 1);
    await faults({});
    expect(totals(k)).toEqual({ received: before.received + 2, delivered: before.delivered + 1, dead: before.dead + 1 });
    const o = (await admin('/overview')).body;
    expect(o).toMatchObject({ window: '1h', bucketMs: 60_000 });
    expect(k.series.length).toBeGreaterThanOrEqual(60);
    expect(k.klaviyo.reduce((n: number, p: any) => n + p.requests, 0)).toBeGreaterThan(0);
    expect(k.klaviyo.reduce((n: number, p: any) => n + p.failed, 0)).toBeGreaterThan(0);
    expect(k.batchSizes.requests).toBeGreaterThan(0);
    expect(k.rateLimits.find((r: any) => r.endpoint === 'createEvent')).toMatchObject({ tier: 'XL', burst: { limit: 350 }, steady: { limit: 3500 } });
    expect(k.rateLimits.every((r: any) => r.headroom >= 0 && r.headroom <= 1)).toBe(true);
    expect(k.queue.dead).toBe((await admin('/dead-letters')).body.deadLetters.length);
    expect((await admin('/overview?window=24h')).body.bucketMs).toBe(600_000);
    expect((await admin('/overview?window=7d')).status).toBe(400);
  });

  it('mapping tester: the preview engine, with the field to fix', async () => {
    const r = await admin('/preview', {
      method: 'POST',
      body: JSON.stringify({
        destination: 'klaviyo',
        messages: [
          { type: 'track', userId: 'u1', event: 'Signed Up', properties: { plan: 'pro' } },
          { type: 'track', userId: 'u1' },
        ],
      }),
    });
    expect(r.body.results[0].actions[0]).toMatchObject({ action: 'trackEvent', payload: { metric_name: 'Signed Up' } });
    expect(r.body.results[0].requests[0]).toMatchObject({ method: 'POST', path: '/api/events' });
    expect(r.body.results[1]).toMatchObject({ requests: [], error: { field: 'event' } });
    // Delivery's own send code: an audience's list is looked up by name and created, then named by the import job.
    const entered = {
      type: 'track',
      userId: 'u5',
      event: 'Audience Entered',
      context: { traits: { email: 'aud@example.com' }, personas: { computation_key: 'vip_buyers', computation_id: 'aud_7' } },
    };
    const aud = await admin('/preview', { method: 'POST', body: JSON.stringify({ destination: 'klaviyo', messages: [entered] }) });
    const lines = aud.body.results[0].requests.map((q: any) => `${q.method} ${decodeURIComponent(q.path)}`);
    expect(lines).toEqual(expect.arrayContaining(['GET /api/lists?filter=equals(name,"vip_buyers")', 'POST /api/lists', 'POST /api/profile-bulk-import-jobs']));
    const job = aud.body.results[0].requests.find((q: any) => q.path === '/api/profile-bulk-import-jobs');
    expect(job.body.data.relationships.lists.data).toEqual([{ type: 'list', id: '<list id of vip_buyers>' }]);
    const rs = await admin('/preview', {
      method: 'POST',
      body: JSON.stringify({
        preset: 'rudderstack',
        settings: { apiVersion: 'v2' },
        messages: [{ type: 'identify', userId: 'u2', traits: { email: 'r@example.com' } }],
      }),
    });
    expect(rs.body.results[0].requests.length).toBeGreaterThan(0);
    // RudderStack's destination export is read as its settings; an unknown setting is refused, naming it and the closest known one.
    const anon = { type: 'identify', anonymousId: 'a-3', traits: { email: 'x@example.com' } };
    const exported = await admin('/preview', {
      method: 'POST',
      body: JSON.stringify({ preset: 'rudderstack', settings: { ID: 'd1', Config: { privateApiKey: 'pk_x' } }, messages: [anon] }),
    });
    expect(exported.body.results[0].requests[0].body.data.attributes.external_id).toBe('a-3'); // no apiVersion: v1 keys anonymous users by anonymousId
    const typo = await admin('/preview', {
      method: 'POST',
      body: JSON.stringify({ preset: 'rudderstack', settings: { config: { apiVersion: 'v2', listid: 'L1' } }, messages: [anon] }),
    });
    expect([typo.status, typo.body.error]).toEqual([400, expect.stringContaining('listid: Unrecognized key "listid"; did you mean "listId"?')]);
    expect((await admin('/preview', { method: 'POST', body: JSON.stringify({ preset: 'nope', messages: [] }) })).body.error).toMatch(/unknown preset "nope"/);
    expect((await admin('/preview', { method: 'POST', body: JSON.stringify({ destination: 'other', messages: [] }) })).status).toBe(400);
    expect((await admin('/preview', { method: 'POST', body: JSON.stringify({ messages: 'x' }) })).status).toBe(400);
  });

  it('mapping tester with a candidate edit: the newest live messages planned as the destination runs and as edited, nothing applied', async () => {
    expect(
      (await send([{ type: 'track', userId: 'u9', messageId: 'cand-1', event: 'Candidate Tested', context: { traits: { email: 'c@example.com' } } }])).status,
    ).toBe(200);
    const version = (await admin('/config')).body.version;
    // The edit keeps only an identify subscription: the track message it is tested on would trigger nothing.
    const candidate = { subscriptions: [{ name: 'Identify', subscribe: 'type = "identify"', partnerAction: 'upsertProfile' }] };
    const r = await admin('/preview', { method: 'POST', body: JSON.stringify({ destination: 'klaviyo', live: 1, candidate }) });
    expect(r.status).toBe(200);
    expect(r.body.before).toHaveLength(1);
    expect(r.body.before[0]).toMatchObject({ messageId: 'cand-1', actions: [{ action: 'trackEvent' }], requests: [{ method: 'POST', path: '/api/events' }] });
    expect(r.body.results[0]).toMatchObject({ messageId: 'cand-1', actions: [], requests: [], error: null });
    expect((await admin('/config')).body.version).toBe(version);
    // Without a candidate: the live messages as the destination runs, only.
    const plain = await admin('/preview', { method: 'POST', body: JSON.stringify({ destination: 'klaviyo', live: 1 }) });
    expect(plain.body).toEqual({ results: r.body.before });
    // A candidate that cannot run is refused as applying it would be, naming the path at fault.
    const bad = await admin('/preview', {
      method: 'POST',
      body: JSON.stringify({ destination: 'klaviyo', live: 1, candidate: { subscriptions: [{ subscribe: 'type =', partnerAction: 'trackEvent' }] } }),
    });
    expect([bad.status, bad.body.error]).toEqual([400, expect.stringMatching(/destinations\.0 \("klaviyo"\): .*incomplete/)]);
    const refused = (body: object) => admin('/preview', { method: 'POST', body: JSON.stringify(body) }).then((x) => [x.status, x.body.error]);
    expect(await refused({ live: 1, candidate })).toEqual([400, expect.stringContaining('need "destination"')]);
    expect(await refused({ destination: 'klaviyo', live: 1, messages: [] })).toEqual([400, expect.stringContaining('not both')]);
    expect(await refused({ destination: 'klaviyo', live: 1, candidate: { name: 'other' } })).toEqual([400, expect.stringContaining('keeps its destination')]);
  });

  it('configuration with secrets masked; no emulator browser when delivering to a given URL', async () => {
    const c = (await admin('/config')).body;
    expect(JSON.stringify(c)).not.toContain(API_KEY);
    expect(JSON.stringify(c)).not.toContain(WRITE_KEY);
    expect(c).toMatchObject({ role: 'all', store: 'sqlite', emulator: null, presets: expect.arrayContaining(['segment-actions', 'rudderstack']) });
    expect(c.destinations[0]).toMatchObject({ name: 'klaviyo', preset: 'segment-actions', apiKey: 'pk_…0123', klaviyoUrl: emu.url });
    expect(c.destinations[0].subscriptions.map((s: any) => s.partnerAction)).toContain('trackEvent');
    expect((await admin('/emulator')).status).toBe(404);
  });
});

describe('admin API under load', () => {
  it('links every message of a bulk request to it, and finds it by any profile it carried', async () => {
    const batch = Array.from({ length: 300 }, (_, i) => ({
      type: 'track',
      userId: `bulk-${i}`,
      messageId: `bulk-${i}`,
      event: 'Bulk',
      context: { traits: { email: `bulk-${i}@example.com` } },
    }));
    expect((await send(batch)).status).toBe(200);
    const detail = await until(
      async () => (await admin('/events/bulk-250')).body,
      (d) => d.destinations?.[0]?.deliveries?.length > 0,
    );
    const bulk = detail.destinations[0].deliveries.find((r: any) => r.endpoint === 'bulkCreateEvents');
    expect(bulk).toMatchObject({ status: 'ok', actions: ['trackEvent'] });
    expect(bulk.items).toBeGreaterThan(100); // more than the ids listed on the record
    const found = (await admin('/deliveries?profile=bulk-250@example.com')).body.deliveries;
    expect(found.map((r: any) => r.id)).toContain(bulk.id);
  });

  it('ends the stream of a client that stopped reading instead of buffering for it', async () => {
    const stream = await fetch(`${svc.url}/admin/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const reader = stream.body!.getReader();
    // Not reading: the server's buffer for this client fills up.
    const big = 'x'.repeat(400);
    for (let b = 0; b < 30; b++) {
      const batch = Array.from({ length: 500 }, (_, i) => ({ type: 'track', userId: `flood-${b}-${i}`, messageId: `flood-${b}-${i}`, event: `Flood ${big}` }));
      expect((await send(batch)).status).toBe(200);
    }
    // Ended, or its socket closed (a client that does not read would not see an orderly end either).
    const drained = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })().catch(() => 'ended');
    expect(await drained).toBe('ended'); // still open: the test times out
    // Leave no backlog for the tests after this one: the flood is delivered before it ends.
    const left = await until(
      async () => (await svc.store.stats()).byDestination.klaviyo,
      (k) => k.queued + k.leased + k.retrying === 0,
      120_000,
    );
    expect(left.queued).toBe(0);
  }, 180_000);
});

describe('emulator mode', () => {
  it('generates an admin token when none is configured; browses what the built-in emulator holds', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kd-admin-emu-'));
    const config = parseConfig({
      port: 0,
      dataDir: d,
      sources: [{ name: 'web', writeKey: WRITE_KEY }],
      destinations: [{ name: 'klaviyo', delivery: { flushIntervalMs: 20 } }],
    });
    // No token configured: one is generated and kept in the store, the same after a restart.
    const first = await startService(config, createLogger('silent'));
    const generated = await first.store.kvGet('adminToken');
    await first.stop();
    expect(generated).toMatch(/^[\w-]{24}$/);
    const s = await startService(config, createLogger('silent'));
    const TOKEN = (await s.store.kvGet('adminToken'))!;
    expect(TOKEN).toBe(generated);
    try {
      expect((await fetch(`${s.url}/admin/config`)).status).toBe(401);
      await fetch(`${s.url}/v1/identify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
        body: JSON.stringify({ userId: 'e1', traits: { email: 'e1@example.com' } }),
      });
      const get = async () => (await (await fetch(`${s.url}/admin/emulator`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
      const e = await until(get, (x) => x.counts?.profiles === 1);
      expect(e.url).toBe(s.emulatorUrl);
      expect(e.profiles[0].attributes).toMatchObject({ email: 'e1@example.com', external_id: 'e1' });
      const c = (await (await fetch(`${s.url}/admin/config`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
      expect(c.emulator).toBe(s.emulatorUrl);
      // A dashboard left open does not hold up shutdown.
      const stream = await fetch(`${s.url}/admin/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(stream.status).toBe(200);
      expect(await s.stop().then(() => 'stopped')).toBe('stopped'); // hung: the test times out
    } finally {
      await s.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('a destination with a key beside one without', () => {
  it('only the one without a key delivers to the built-in emulator', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kd-admin-mixed-'));
    const config = parseConfig({
      port: 0,
      dataDir: d,
      adminToken: TOKEN,
      // Events go to `dev` only: `real` would reach out to Klaviyo itself.
      sources: [{ name: 'web', writeKey: WRITE_KEY, destinations: ['dev'] }],
      destinations: [
        { name: 'real', apiKey: API_KEY },
        { name: 'dev', delivery: { flushIntervalMs: 20 } },
      ],
    });
    const s = await startService(config, createLogger('silent'));
    try {
      const c = (await (await fetch(`${s.url}/admin/config`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
      expect(Object.fromEntries(c.destinations.map((x: any) => [x.name, x.deliversTo]))).toEqual({ real: 'https://a.klaviyo.com', dev: s.emulatorUrl });
    } finally {
      await s.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('split roles on one store', () => {
  it('an ingest process reports what a worker process made of its messages, from the queue', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kd-admin-roles-'));
    const base = { port: 0, dataDir: d, adminToken: TOKEN, sources: [{ name: 'web', writeKey: WRITE_KEY }] };
    const subscriptions = [
      { name: 'ok', subscribe: 'event = "Split"', partnerAction: 'trackEvent' },
      // A mapping that reads a property these events lack: planning fails, the message is dead-lettered.
      {
        name: 'broken',
        subscribe: 'event = "Broken"',
        partnerAction: 'trackEvent',
        mapping: { profile: { external_id: { '@path': '$.userId' } }, metric_name: { '@path': '$.properties.nope' } },
      },
    ];
    const dest = { name: 'klaviyo', apiKey: API_KEY, klaviyoUrl: emu.url, subscriptions, delivery: { flushIntervalMs: 20, maxAttempts: 1 } };
    const ingest = await startService(parseConfig({ ...base, role: 'ingest', destinations: [dest] }), createLogger('silent'), { shared: true });
    const get = async (id: string) =>
      (await (await fetch(`${ingest.url}/admin/events/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
    try {
      const post = (m: object) =>
        fetch(`${ingest.url}/v1/track`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
          body: JSON.stringify(m),
        });
      await post({ userId: 'r1', messageId: 'roles-ok', event: 'Split', context: { traits: { email: 'roles@example.com' } } });
      await post({ userId: 'r2', messageId: 'roles-none', event: 'Broken' });
      expect((await get('roles-ok')).destinations[0].outcome).toMatchObject({ status: 'queued' });
      const worker = await startService(parseConfig({ ...base, role: 'worker', destinations: [dest] }), createLogger('silent'), { shared: true });
      try {
        const ok = await until(
          () => get('roles-ok'),
          (x) => x.destinations[0].outcome.status === 'delivered',
        );
        expect(ok.destinations[0]).toMatchObject({ outcome: { status: 'delivered' }, deliveries: [] }); // the requests are the worker's
        const dead = await until(
          () => get('roles-none'),
          (x) => x.destinations[0].outcome.status === 'dead',
        );
        expect(dead.destinations[0].outcome.error).toMatch(/mapping failed/);
      } finally {
        await worker.stop();
      }
    } finally {
      await ingest.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('dashboard files', () => {
  it('serves the built app at /ui/, and says how to build it when it is missing', async () => {
    const built = mkdtempSync(join(tmpdir(), 'kd-ui-'));
    writeFileSync(join(built, 'index.html'), '<!doctype html><div id="app"></div>');
    const missing = join(built, 'missing');
    mkdirSync(missing);
    for (const [root, status, text] of [
      [built, 200, 'id="app"'],
      [missing, 503, 'npm run build'],
    ] as const) {
      const app = Fastify();
      await registerUi(app, root);
      const res = await app.inject({ url: '/ui/' });
      expect(res.statusCode).toBe(status);
      expect(res.body).toContain(text);
      expect((await app.inject({ url: '/ui' })).statusCode).toBe(302);
      await app.close();
    }
    rmSync(built, { recursive: true, force: true });
  });
});
