/**
 * Hostile input against a running service (embedded store, the emulator as Klaviyo): absurd nesting, bad admin
 * bodies and queries, huge batches, slow clients; and the dashboard's security headers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { get as httpGet } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { startEmulator } from '../src/emulator/index.js';
import { until } from './helpers/until.js';

const WRITE_KEY = 'hardening_write_key';
const TOKEN = 'hardening-admin-token-0123';
let dir: string;
let svc: RunningService;
let emu: Awaited<ReturnType<typeof startEmulator>>;

const basic = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const admin = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${svc.url}/admin${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as any };
};
const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${svc.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic, ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? (body as BodyInit) : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, bytes: text.length, body: text ? (JSON.parse(text) as any) : undefined };
};
const track = (id: string, extra: object = {}) => ({ type: 'track', userId: 'u-hard', messageId: id, event: 'Hardened', ...extra });
/** `levels` arrays nested in one another, as JSON text (JSON.stringify itself would recurse). */
const nestedText = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-hard-'));
  emu = await startEmulator({ port: 0, host: '127.0.0.1', rateLimits: false });
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    adminToken: TOKEN,
    sources: [{ name: 'web', writeKey: WRITE_KEY }],
    destinations: [{ name: 'klaviyo', apiKey: 'pk_hardening', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 20 } }],
  });
  svc = await startService(config, createLogger('silent'));
});
afterAll(async () => {
  await svc?.stop();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('deep nesting', () => {
  it('refuses only the deeply nested message of a batch, with a 400-style error naming the limit; the others are stored', async () => {
    const body =
      `{"batch":[${JSON.stringify(track('deep-ok-1'))},${JSON.stringify(track('deep-bad')).slice(0, -1)},` +
      `"properties":{"x":${nestedText(5000)}}},${JSON.stringify(track('deep-ok-2'))}]}`;
    const r = await post('/v1/batch', body);
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected).toEqual([
      { index: 1, field: 'batch[1].properties', message: expect.stringMatching(/nested more than 64 levels deep; the limit is 64/) },
    ]);
    await until(
      () => emu.snapshot().events.map((e) => e.unique_id),
      (ids) => ids.includes('deep-ok-1') && ids.includes('deep-ok-2'),
    );
    expect(emu.snapshot().events.some((e) => e.unique_id === 'deep-bad')).toBe(false);
  });

  it('a single deeply nested message is a 400 naming the limit', async () => {
    const r = await post('/v1/track', `${JSON.stringify(track('deep-single')).slice(0, -1)},"context":{"traits":${nestedText(100_000)}}}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/context: nested more than 64 levels deep/);
  });

  it('/admin/preview answers for each message, refusing only the deep one', async () => {
    const res = await fetch(`${svc.url}/admin/preview`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body:
        `{"destination":"klaviyo","messages":[${JSON.stringify(track('p-ok'))},` +
        `{"type":"track","userId":"u","event":"E","messageId":${nestedText(5000)},"properties":${nestedText(5000)}}]}`,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.results[0].error).toBeNull();
    expect(body.results[0].requests.length).toBeGreaterThan(0);
    expect(body.results[1]).toMatchObject({ messageId: null, error: { message: expect.stringMatching(/the limit is 64/) } });
  });
});

describe('admin input', () => {
  const faults = (f: object) =>
    fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });

  it('replay and discard refuse a filter they do not understand, and never widen it', async () => {
    await faults({ rate400: 1 });
    await post('/v1/batch', { batch: [track('adm-dead-1'), track('adm-dead-2')] });
    await until(
      async () => (await admin('/dead-letters')).body.deadLetters.length,
      (n) => n === 2,
    );
    await faults({});
    const bad: unknown[] = [
      { all: true, destination: ['x'] },
      { all: true, reason: ['a', 'b'] },
      { all: true, destination: '' },
      { all: true, destinations: 'klaviyo' },
      { all: true, destination: 7 },
      { seqs: ['1'] },
      [],
      'all',
    ];
    for (const body of bad) {
      for (const op of ['replay', 'discard']) {
        const r = await admin(`/dead-letters/${op}`, { method: 'POST', body: JSON.stringify(body) });
        expect({ body, op, status: r.status }).toEqual({ body, op, status: 400 });
        expect(r.body.error).toBeTruthy();
      }
    }
    expect((await admin('/dead-letters')).body.deadLetters).toHaveLength(2);
    expect((await admin('/dead-letters/discard', { method: 'POST', body: JSON.stringify({ all: true, destination: 'nothing-here' }) })).body).toEqual({
      discarded: 0,
    });
    expect((await admin('/dead-letters/discard', { method: 'POST', body: JSON.stringify({ all: true, destination: 'klaviyo' }) })).body).toEqual({
      discarded: 2,
    });
  });

  it('wrong types, repeated query parameters and prototype names are a 400, not a 500', async () => {
    for (const path of [
      '/overview?window=__proto__',
      '/overview?window=toString',
      '/overview?window=1h&window=24h',
      '/events?limit=abc',
      '/events?destination=a&destination=b',
      '/deliveries?status=ok&status=failed',
      '/deliveries?status=nope',
      '/dead-letters?reason=a&reason=b',
      '/dead-letters?limit=-1',
      '/deliveries?limit=0',
    ]) {
      const r = await admin(path);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      expect(r.body.error).toMatch(/query parameter "\w+"/);
    }
    expect((await admin('/overview?window=24h')).status).toBe(200);
    expect((await admin('/events?limit=100000')).status).toBe(200);
    const preview = await admin('/preview', { method: 'POST', body: JSON.stringify({ destination: 'klaviyo', messages: 'x' }) });
    expect(preview).toMatchObject({ status: 400, body: { error: expect.stringMatching(/messages/) } });
    expect((await admin('/preview', { method: 'POST', body: JSON.stringify({ preset: 1, messages: [] }) })).status).toBe(400);
  });
});

describe('response amplification', () => {
  it('a batch over the message cap is refused in a short answer, even when it gzips to 532 bytes', async () => {
    const { gzipSync } = await import('node:zlib');
    const body = gzipSync(JSON.stringify({ batch: new Array(240_000).fill(0) }));
    const r = await post('/v1/batch', body, { 'content-encoding': 'gzip' });
    expect(r.body.error).toBe('the batch has 240000 messages; the limit is 2500 messages per batch');
    expect(r.status).toBe(413);
    expect(r.bytes).toBeLessThan(1000);
  });

  it('lists the first 100 errors and counts the rest', async () => {
    const bad = await post('/v1/batch', { batch: new Array(2000).fill(0) });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toHaveLength(100);
    expect(bad.body.errorsCount).toBe(2000);
    const some = await post('/v1/batch', { batch: [...new Array(300).fill(0), track('amp-ok')] });
    expect(some.status).toBe(200);
    expect(some.body).toMatchObject({ accepted: 1, rejectedCount: 300 });
    expect(some.body.rejected).toHaveLength(100);
    expect(some.body.rejected[99].index).toBe(99);
  });
});

describe('slow and many clients', () => {
  let tight: RunningService;
  let port: number;
  const tightDir = mkdtempSync(join(tmpdir(), 'kd-hard-tight-'));
  beforeAll(async () => {
    const config = parseConfig({
      port: 0,
      dataDir: tightDir,
      adminToken: TOKEN,
      sources: [{ name: 'web', writeKey: WRITE_KEY }],
      destinations: [{ name: 'klaviyo', apiKey: 'pk_hardening', klaviyoUrl: emu.url }],
      http: { maxConnections: 3, requestTimeoutMs: 1500, headersTimeoutMs: 1000, maxStreamClients: 1, protectDetails: true },
    });
    tight = await startService(config, createLogger('silent'));
    port = Number(new URL(tight.url).port);
  });
  afterAll(async () => {
    await tight?.stop();
    rmSync(tightDir, { recursive: true, force: true });
  });

  /** GET /health on a connection of its own that closes after it (fetch would keep one open in its pool). */
  const health = (url = tight.url) =>
    new Promise<number>((resolve) => {
      const req = httpGet(`${url}/health`, { agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
      req.on('error', () => resolve(0));
    });
  // Each test's raw sockets are closed after it, and the server takes requests again, whatever order tests run in.
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    expect(await until(health, (st) => st === 200)).toBe(200);
  });

  /** A raw socket and everything the server sent on it; `closed` once the server ended it. */
  const raw = (to = port) => {
    const s = netConnect(to, '127.0.0.1');
    sockets.push(s);
    const seen = { data: '', closed: false, socket: s };
    s.setEncoding('utf8');
    s.on('data', (d: string) => (seen.data += d));
    s.on('close', () => (seen.closed = true));
    s.on('error', () => {});
    return seen;
  };

  it('refuses an unknown write key before reading the body', async () => {
    const c = raw();
    const unknown = Buffer.from('not-a-key:').toString('base64');
    c.socket.write(
      `POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\nAuthorization: Basic ${unknown}\r\n\r\n{"batch":[`,
    );
    const data = await until(
      () => c.data,
      (d) => d.includes('\r\n\r\n'),
      10_000,
    );
    expect(data).toMatch(/^HTTP\/1\.1 401/);
    c.socket.destroy();
  });

  it('cuts off a client that trickles its request', async () => {
    const c = raw();
    c.socket.write('POST /v1/batch HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => !c.closed && c.socket.write('X'), 200);
    try {
      expect(
        await until(
          () => c.closed,
          (x) => x,
          20_000,
        ),
      ).toBe(true);
    } finally {
      clearInterval(drip);
    }
  });

  it('refuses connections over the cap, and takes them again once one closes', async () => {
    // A server of its own: the other tests' fetch connections, idle in fetch's pool for a while, would hold its slots.
    const dir = mkdtempSync(join(tmpdir(), 'kd-hard-cap-'));
    const capped = await startService(
      parseConfig({
        port: 0,
        dataDir: dir,
        sources: [{ name: 'web', writeKey: WRITE_KEY }],
        destinations: [{ name: 'klaviyo', apiKey: 'pk_cap', klaviyoUrl: emu.url }],
        http: { maxConnections: 3 },
      }),
      createLogger('silent'),
    );
    try {
      const cappedPort = Number(new URL(capped.url).port);
      const held = [raw(cappedPort), raw(cappedPort), raw(cappedPort)];
      expect(
        await until(
          () => held.map((h) => h.socket.readyState),
          (states) => states.every((st) => st === 'open'),
        ),
      ).toEqual(['open', 'open', 'open']);
      await new Promise((r) => setTimeout(r, 100));
      const over = raw(cappedPort);
      expect(
        await until(
          () => over.closed,
          (x) => x,
        ),
      ).toBe(true);
      held.forEach((h) => h.socket.destroy());
      expect(
        await until(
          () => health(capped.url),
          (st) => st === 200,
        ),
      ).toBe(200);
    } finally {
      await capped.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('caps the open live-event streams', async () => {
    const ctl = new AbortController();
    const first = await fetch(`${tight.url}/admin/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctl.signal });
    expect(first.status).toBe(200);
    const second = await fetch(`${tight.url}/admin/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(second.status).toBe(503);
    expect(((await second.json()) as any).error).toMatch(/maxStreamClients/);
    ctl.abort();
    const again = await until(
      async () => {
        const r = await fetch(`${tight.url}/admin/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
        if (r.status === 200) await r.body?.cancel();
        return r.status;
      },
      (st) => st === 200,
      10_000,
    );
    expect(again).toBe(200);
  });

  it('with protectDetails, /metrics needs the admin token and /health shows only its status without it', async () => {
    expect((await fetch(`${tight.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${tight.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect(await (await fetch(`${tight.url}/health`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${tight.url}/health`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()).toMatchObject({
      status: 'ok',
      destinations: ['klaviyo'],
    });
    // Off (the default): as before.
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(200);
    expect(await (await fetch(`${svc.url}/health`)).json()).toMatchObject({ destinations: ['klaviyo'] });
  });

  it('accepts the auth scheme names in any case', async () => {
    const lower = await fetch(`${tight.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify(track('case-1')),
    });
    expect(lower.status).toBe(200);
    const bearer = await fetch(`${tight.url}/admin/status`, { headers: { authorization: `BEARER ${TOKEN}` } });
    expect(bearer.status).toBe(200);
  });
});

describe('dashboard security headers', () => {
  it('every dashboard response forbids framing, sniffing, referrers, and scripts from anywhere but itself', async () => {
    const { existsSync } = await import('node:fs');
    const { UI_DIR } = await import('../src/admin/ui.js');
    const paths = ['/ui', '/ui/'];
    if (existsSync(join(UI_DIR, 'index.html'))) {
      const html = await (await fetch(`${svc.url}/ui/`)).text();
      // No inline script: the page loads its code from files.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      paths.push(html.match(/src="(\/ui\/assets\/[^"]+\.js)"/)![1]);
    }
    for (const path of paths) {
      const res = await fetch(`${svc.url}${path}`, { redirect: 'manual' });
      await res.arrayBuffer();
      const csp = res.headers.get('content-security-policy') ?? '';
      expect({ path, csp }).toEqual({ path, csp: expect.stringContaining("default-src 'self'") });
      expect(csp).toContain("script-src 'self';");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });
});

describe('numbers and bytes JSON cannot carry', () => {
  it('reports 1e400 (sent as null) and invalid UTF-8 (replaced) as warnings', async () => {
    const r = await post('/v1/batch', `{"batch":[{"type":"track","userId":"u-num","messageId":"num-1","event":"Big","properties":{"n":1e400,"ok":2}}]}`);
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual([{ index: 0, field: 'batch[0].properties.n', message: expect.stringMatching(/as null: the number is too large/) }]);
    const bytes = Buffer.concat([
      Buffer.from('{"type":"track","userId":"u-utf","messageId":"utf-1","event":"Bad '),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const res = await fetch(`${svc.url}/v1/track`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic }, body: bytes });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).warnings).toEqual([{ field: '', message: expect.stringMatching(/not valid UTF-8/) }]);
  });
});
