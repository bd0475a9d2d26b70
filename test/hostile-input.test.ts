/**
 * The third adversarial review's hostile inputs against a running ingest process: percent-encoded paths that
 * must meet the same checks as plain ones, the settings endpoints under odd headers. What was accepted is read
 * back from the queue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { pino } from 'pino';
import { until } from './helpers/until.js';

const KEY = 'hostile_write_key_0123';
const SHOP = 'https://shop.test';
let dir: string;
let svc: RunningService;
let port: number;
const serverErrors: unknown[] = [];
let seen = 0;

const queued = async () => {
  await svc.store.routed(); // accepted messages reach the queue through the inbox (docs/ingest.md)
  const rows = await svc.store.lease('klaviyo', { limit: 1000, leaseMs: 60_000, owner: `hostile-${seen++}` });
  return rows.map((r) => r.payload as Record<string, any>);
};

/** What the server answers to a request written by hand (headers fetch would refuse or fix), up to its head. */
const rawRequest = async (text: string) => {
  const s = netConnect(port, '127.0.0.1');
  let data = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => (data += d));
  s.on('error', () => {});
  s.write(text);
  const head = await until(
    () => data,
    (d) => d.includes('\r\n\r\n'),
    10_000,
  );
  s.destroy();
  return head;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-hostile-'));
  const config = parseConfig(
    { port: 0, dataDir: dir, role: 'ingest', adminToken: 'admin-token-0123456789', sources: [{ name: 'web', writeKey: KEY }] },
    { corsOrigins: SHOP },
  );
  // A 500 is logged at error level with its stack: keep every error line the process writes.
  const logger = pino({ level: 'error' }, { write: (line: string) => serverErrors.push(JSON.parse(line)) });
  svc = await startService(config, logger);
  port = Number(new URL(svc.url).port);
});
afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('percent-encoded paths meet the same checks as plain ones', () => {
  const event = JSON.stringify({ type: 'track', event: 'E', userId: 'enc-1', messageId: 'enc-1', writeKey: KEY });

  it('an origin not on --cors-origins is refused on /%761/track as on /v1/track, and nothing is kept', async () => {
    for (const path of ['/v1/track', '/%761/track', '/%76%31/track', '/v1/%74rack']) {
      const res = await fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.test' }, body: event });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    expect(await queued()).toEqual([]);
    // An allowed origin still gets its answer named, on the encoded path too.
    const ok = await fetch(`${svc.url}/%761/track`, { method: 'POST', headers: { 'content-type': 'text/plain', origin: SHOP }, body: event });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect((await queued()).map((m) => m.messageId)).toEqual(['enc-1']);
  });

  it('a wrong write key on an encoded path is refused before the body is read', async () => {
    const wrong = Buffer.from('not-a-key:').toString('base64');
    const head = await rawRequest(
      `POST /%761/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\nAuthorization: Basic ${wrong}\r\n\r\n{"batch":[`,
    );
    expect(head).toMatch(/^HTTP\/1\.1 401/);
  });
});

describe('live messages cannot claim to be warehouse rows', () => {
  it("context.retl is dropped at ingest: no model plan of the sender's choosing is loaded or cached", async () => {
    const res = await fetch(`${svc.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
      body: JSON.stringify({
        batch: Array.from({ length: 3 }, (_, i) => ({
          type: 'track',
          event: 'E',
          userId: 'retl-1',
          messageId: `retl-${i}`,
          context: { retl: { model: `model-${i}-${'m'.repeat(1000)}`, version: String(i) }, locale: 'en-US' },
        })),
      }),
    });
    expect(res.status).toBe(200);
    const rows = await queued();
    expect(rows.map((m) => m.context)).toEqual([{ locale: 'en-US' }, { locale: 'en-US' }, { locale: 'en-US' }]);
  });
});

describe('public write keys cannot create lists', () => {
  const audience = (id: string) => ({
    type: 'track',
    event: 'Audience Entered',
    userId: 'aud-1',
    messageId: id,
    context: { personas: { computation_key: `made_up_${id}`, computation_class: 'audience' } },
  });

  it('Engage audience events from browser paths are refused (CORS, beacon, text/plain); the other messages are kept', async () => {
    const body = (batch: object[]) => JSON.stringify({ writeKey: KEY, batch });
    const plain = await fetch(`${svc.url}/v1/b`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: body([audience('a-1'), { type: 'track', event: 'E', userId: 'aud-1', messageId: 'ok-1' }]),
    });
    expect(plain.status).toBe(200);
    expect(((await plain.json()) as any).rejected[0]).toMatchObject({
      field: 'context.personas',
      message: expect.stringMatching(/^a-1: Engage audience events are not taken from browsers/),
    });
    const beacon = await fetch(`${svc.url}/beacon/v1/batch?writeKey=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body([audience('a-2')]),
    });
    expect(beacon.status).toBe(400);
    const cors = await fetch(`${svc.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: SHOP },
      body: JSON.stringify({ ...audience('a-3'), writeKey: KEY }),
    });
    expect(cors.status).toBe(403);
    expect((await queued()).map((m) => m.messageId)).toEqual(['ok-1']);
    // Server-side (no Origin, JSON with Basic auth), the same event is taken.
    const server = await fetch(`${svc.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
      // Another user: aud-1's partition is still leased by the read above.
      body: JSON.stringify({ batch: [{ ...audience('a-4'), userId: 'aud-2' }] }),
    });
    expect(server.status).toBe(200);
    expect((await queued()).map((m) => m.messageId)).toEqual(['a-4']);
  });
});

describe('settings endpoints under odd headers', () => {
  it('/sourceConfig takes the Basic scheme name in any case', async () => {
    for (const scheme of ['Basic', 'basic', 'BASIC']) {
      const res = await fetch(`${svc.url}/sourceConfig`, { headers: { authorization: `${scheme} ${Buffer.from(`${KEY}:`).toString('base64')}` } });
      expect({ scheme, status: res.status }).toEqual({ scheme, status: 200 });
      expect(((await res.json()) as any).source.writeKey).toBe(KEY);
    }
  });

  it('a malformed Host is a 400 naming the Host header, never a 500', async () => {
    for (const host of ['a b', '[::1', 'x:99999', '', 'a/b']) {
      for (const path of [`/sourceConfig?writeKey=${KEY}`, `/v1/projects/${KEY}/settings`]) {
        const head = await rawRequest(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        expect({ host, path, status: head.slice(9, 12) }).toEqual({ host, path, status: '400' });
      }
    }
    expect(serverErrors).toEqual([]);
  });
});
