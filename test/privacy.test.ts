/**
 * A deletion deletes (Segment's "Delete and Suppress"): against a running service and the emulator, a user's queued
 * messages, dead letter, sync snapshot row and dashboard entries are purged with the Klaviyo deletion, draining the
 * queue afterwards re-creates nothing, later messages naming them are dropped at ingest until the suppression is
 * lifted, and the store keeps no identifier of theirs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startEmulator } from '../src/emulator/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { until } from './helpers/until.js';
import Database from 'better-sqlite3';
import { inboxFile } from '../src/store/sqlite/index.js';

const TOKEN = 'privacy-admin-token-0123';
const KEY = 'privacy_write_key';
let dir: string;
let svc: RunningService;
let emu: Awaited<ReturnType<typeof startEmulator>>;

const emulatorState = async () => (await fetch(`${emu.url}/__emulator/state`)).json() as Promise<any>;
const faults = (f: object) =>
  fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
const admin = async (path: string, init: { method?: string; body?: unknown } = {}) => {
  const res = await fetch(`${svc.url}/admin${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
};
const send = async (batch: object[]) => {
  const res = await fetch(`${svc.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
};
/** Every stored message (any state) whose text contains `needle`. */
const storedWith = async (needle: string) => {
  const found: unknown[] = [];
  // A purge whose test never matches reads every row and deletes none.
  await svc.store.privacy.purgeMessages((p) => (JSON.stringify(p).toLowerCase().includes(needle) && found.push(p), false));
  return found;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-privacy-'));
  emu = await startEmulator({ port: 0, host: '127.0.0.1', rateLimits: false });
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    adminToken: TOKEN,
    sources: [{ name: 'web', writeKey: KEY }],
    destinations: [{ name: 'klaviyo', apiKey: 'pk_privacy', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 20 } }],
  });
  svc = await startService(config, createLogger('silent'));
});
afterAll(async () => {
  await svc?.stop();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('delete and suppress', () => {
  it('purges every copy of the person, leaves no trace in Klaviyo after the queue drains, and drops their later messages', async () => {
    // A dead letter naming the person by email (Klaviyo refused it once).
    await faults({ rate400: 1 });
    await send([{ type: 'identify', messageId: 'dead-gone', userId: 'gone-1', traits: { email: 'gone@example.com', note: 'private note' } }]);
    await until(
      async () => (await admin('/dead-letters')).body.deadLetters.length,
      (n) => n === 1,
    );
    await faults({});
    // Queued, not yet delivered: the person by user id and email, an anonymous id they were seen with, someone else.
    const worker = svc.workers.get('klaviyo')!;
    worker.pause('test: hold delivery while the deletion runs');
    await send([
      { type: 'identify', messageId: 'q-1', userId: 'gone-1', anonymousId: 'anon-g', traits: { email: 'Gone@Example.com' } },
      { type: 'track', messageId: 'q-2', userId: 'gone-1', event: 'Viewed' },
      { type: 'track', messageId: 'q-3', anonymousId: 'anon-g', event: 'Browsed' },
      { type: 'identify', messageId: 'q-4', userId: 'kept-1', traits: { email: 'kept@example.com' } },
    ]);
    await svc.store.snapshots.pending('customers', 'run-1', [
      { pk: 'c-9', hash: 'h', messageId: 'sync-1', row: JSON.stringify({ id: 'c-9', email: 'gone@example.com' }) },
      { pk: 'c-10', hash: 'h', messageId: 'sync-2', row: JSON.stringify({ id: 'c-10', email: 'kept@example.com' }) },
    ]);
    expect(svc.activity.events.list({ q: 'gone' }).length).toBeGreaterThan(0);

    const deleted = await admin('/destinations/klaviyo/delete-user', { method: 'POST', body: { email: 'gone@example.com', suppress: true } });
    expect(deleted.status).toBe(200);
    expect(deleted.body.purged).toMatchObject({ queued: 3, deadLetters: 1, syncRows: 1 });
    expect(deleted.body.purged.liveEvents).toBeGreaterThanOrEqual(4);
    // user id and email (learned from their messages) are suppressed
    expect(deleted.body.suppressed).toBe(2);

    // Their later messages are answered as usual but never stored.
    await send([
      { type: 'track', messageId: 'after-1', userId: 'gone-1', event: 'Back' },
      { type: 'identify', messageId: 'after-2', traits: { email: 'GONE@example.com' }, anonymousId: 'new-anon' },
    ]);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/kd_messages_rejected_total\{source="web",reason="suppressed"\} 2/);

    worker.resume();
    const s = await until(emulatorState, (x) => x.profiles.some((p: any) => p.attributes?.email === 'kept@example.com' || p.email === 'kept@example.com'));
    const text = JSON.stringify({ profiles: s.profiles, events: s.events });
    expect(text).not.toMatch(/gone/i);
    expect(await storedWith('gone')).toEqual([]);
    expect((await admin('/dead-letters')).body.deadLetters).toEqual([]);
    expect([...(await svc.store.snapshots.get('customers', ['c-9', 'c-10'])).keys()]).toEqual(['c-10']);
    expect(svc.activity.events.list({ q: 'gone' })).toEqual([]);
    // Nor does the ingest inbox the messages came through.
    const inbox = new Database(inboxFile(dir), { readonly: true });
    // The messages' ids and keys, and their payloads' text (a blob beside them).
    const records = inbox.prepare(`SELECT messages || coalesce(CAST(payloads AS TEXT), '') AS messages FROM inbox`).all() as { messages: string }[];
    inbox.close();
    expect(records.filter((r) => /gone/i.test(r.messages))).toEqual([]);
    // The store keeps hashes, not the identifiers.
    const kept = JSON.stringify(await svc.store.privacy.suppressed());
    expect(kept).not.toMatch(/gone/i);
  });

  it('lifting a suppression lets the person in again; other identifiers stay suppressed', async () => {
    const lifted = await admin('/suppressions', { method: 'DELETE', body: { email: 'gone@example.com' } });
    expect(lifted).toEqual({ status: 200, body: { lifted: 1 } });
    svc.workers.get('klaviyo')!.pause('test: keep it queued');
    await send([
      { type: 'identify', messageId: 'back-1', traits: { email: 'gone@example.com' }, anonymousId: 'a-2' },
      { type: 'track', messageId: 'back-2', userId: 'gone-1', event: 'Still suppressed' },
    ]);
    expect((await storedWith('back-')).map((m: any) => m.messageId)).toEqual(['back-1']);
    expect((await admin('/suppressions', { method: 'DELETE', body: {} })).status).toBe(400);
    svc.workers.get('klaviyo')!.resume();
  });
});
