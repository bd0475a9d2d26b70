/**
 * One behaviour contract for every Store. Postgres uses TEST_POSTGRES_URL (the user needs CREATEDB) or, when
 * unset, a throwaway server started by test/helpers/postgres.ts; each run gets its own database, each test a
 * fresh schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../../../test/helpers/postgres.js';
import { PostgresStore } from '../postgres/index.js';
import { createSqliteStore } from '../sqlite/index.js';
import type { Store } from '../types.js';

interface Backend {
  name: string;
  setup(): Promise<void>;
  /** Empty data for the next test. */
  reset(): Promise<void>;
  /** A migrated store on the current data; may be called again to reopen it. */
  open(): Promise<Store>;
  teardown(): Promise<void>;
  /** Postgres only: the test database. */
  url?: string;
}

function sqliteBackend(): Backend {
  let dir: string | undefined;
  const drop = () => dir && rmSync(dir, { recursive: true, force: true });
  return {
    name: 'sqlite',
    async setup() {},
    async reset() {
      drop();
      dir = mkdtempSync(join(tmpdir(), 'kd-store-'));
    },
    async open() {
      const s = await createSqliteStore({ dataDir: dir! });
      await s.migrate();
      return s;
    },
    async teardown() {
      drop();
    },
  };
}

function postgresBackend(): Backend {
  let server: PgServer | undefined;
  let base: string;
  let admin: pg.Client;
  const db = `kd_test_${process.pid}_${Date.now()}`;
  const b: Backend = {
    name: 'postgres',
    async setup() {
      base = process.env.TEST_POSTGRES_URL ?? (server = await startPostgres()).url;
      const c = new pg.Client(base);
      await c.connect();
      await c.query(`CREATE DATABASE ${db}`);
      await c.end();
      const u = new URL(base);
      u.pathname = `/${db}`;
      b.url = u.toString();
      admin = new pg.Client(b.url);
      await admin.connect();
    },
    async reset() {
      await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    },
    async open() {
      const s = new PostgresStore(b.url!);
      await s.migrate();
      return s;
    },
    async teardown() {
      await admin?.end();
      if (base) {
        const c = new pg.Client(base);
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        await c.end();
      }
      await server?.stop();
    },
  };
  return b;
}

const msg = (id: string, key: string, payload: unknown = { id }) => ({ messageId: id, partitionKey: key, payload });
const ids = (ms: Array<{ messageId: string }>) => ms.map((m) => m.messageId);
const at = (id: string, key: string, receivedAt: number) => ({ ...msg(id, key), receivedAt });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([sqliteBackend(), postgresBackend()])('$name store', (backend) => {
  let store: Store;
  const lease = (now = Date.now(), limit = 100, owner = 'w1') => store.lease('k', { limit, leaseMs: 60_000, owner, now });

  beforeAll(() => backend.setup(), 60_000);
  afterAll(() => backend.teardown(), 60_000);
  beforeEach(async () => {
    await backend.reset();
    store = await backend.open();
  });
  afterEach(() => store.close());

  it('leases a partition’s due messages together and in order, and nothing of it while they are out', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B'), msg('a2', 'A')]);
    expect(ids(await lease())).toEqual(['a1', 'b1', 'a2']);
    await store.enqueue('k', [msg('a3', 'A'), msg('c1', 'C')]);
    expect(ids(await lease())).toEqual(['c1']); // a3 waits: a1 and a2 are leased
  });

  it('the limit cuts a partition’s run after its oldest messages, never before', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('a2', 'A'), msg('a3', 'A')]);
    expect(ids(await lease(Date.now(), 2))).toEqual(['a1', 'a2']);
    expect(await lease()).toEqual([]);
  });

  it('respects the limit, oldest first', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B'), msg('c1', 'C')]);
    expect(ids(await lease(Date.now(), 2))).toEqual(['a1', 'b1']);
    expect(ids(await lease())).toEqual(['c1']);
  });

  it('keeps destinations apart', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    await store.enqueue('other', [msg('a1', 'A')]);
    expect(ids(await lease())).toEqual(['a1']);
    expect(ids(await store.lease('other', { limit: 10, leaseMs: 60_000, owner: 'w1' }))).toEqual(['a1']);
  });

  it('a retried head blocks its partition until it is due and delivered', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('a2', 'A')]);
    const now = Date.now();
    const [a1, a2] = await lease();
    await store.retry([{ seq: a1.seq, retryAt: now + 5000, error: '500' }]);
    await store.release([{ seq: a2.seq }]); // due at once, but behind a1
    expect((await store.stats()).byDestination.k).toMatchObject({ queued: 1, retrying: 1, leased: 0 });
    expect(await lease(now)).toEqual([]);
    const [again, next] = await lease(now + 6000);
    expect(again).toMatchObject({ messageId: 'a1', attempts: 1, lastError: '500' });
    expect(next).toMatchObject({ messageId: 'a2', attempts: 0 });
  });

  it('renewLeases extends only the leases this owner still holds, so no one else takes them meanwhile', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B')]);
    const now = Date.now();
    const [a1, b1] = await store.lease('k', { limit: 10, leaseMs: 1000, owner: 'w1', now });
    expect(await store.renewLeases([a1.seq, b1.seq], 'w2', 60_000)).toBe(0);
    expect(await store.renewLeases([a1.seq], 'w1', 60_000)).toBe(1);
    // b1's lease lapsed and w2 took it; a1's was renewed and stays w1's.
    expect(ids(await store.lease('k', { limit: 10, leaseMs: 1000, owner: 'w2', now: now + 5000 }))).toEqual(['b1']);
    expect(await store.renewLeases([a1.seq, b1.seq], 'w1', 60_000)).toBe(1);
    await store.ack([a1.seq]);
    expect(await store.renewLeases([a1.seq], 'w1', 60_000)).toBe(0);
    expect(await store.renewLeases([], 'w1', 60_000)).toBe(0);
  });

  it('release puts a message back at a later time without counting an attempt', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B')]);
    const now = Date.now();
    const [a1, b1] = await lease(now);
    await store.release([{ seq: a1.seq, retryAt: now + 5000 }, { seq: b1.seq }]);
    expect(ids(await lease(now + 1000))).toEqual(['b1']);
    expect(await lease(now + 5000)).toMatchObject([{ messageId: 'a1', attempts: 0 }]);
  });

  it('an expired lease (crashed worker) becomes leasable again, by another owner too', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('a2', 'A')]);
    const now = Date.now();
    await lease(now);
    expect(await lease(now + 1000, 100, 'w2')).toEqual([]);
    expect(ids(await lease(now + 61_000, 100, 'w2'))).toEqual(['a1', 'a2']);
  });

  it('ignores a repeated messageId still in the queue, within a batch too', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B'), msg('b1', 'B')]);
    expect(ids(await lease())).toEqual(['a1', 'b1']);
  });

  it('keeps payloads exactly, keys and odd characters included', async () => {
    const payload = { z: 1, a: [null, true, 1.5], s: 'nul\u0000 quote\' "dq" \\ é 🎉', nested: { b: {}, a: [] } };
    await store.enqueue('k', [msg('a1', 'A', payload)]);
    const [m] = await lease();
    expect(m.payload).toEqual(payload);
    expect(Object.keys(m.payload as object)).toEqual(Object.keys(payload));
    expect(m).toMatchObject({ destination: 'k', partitionKey: 'A', attempts: 0 });
    expect(typeof m.seq).toBe('number');
    expect(Math.abs(m.receivedAt - Date.now())).toBeLessThan(60_000);
  });

  it('dead letters do not block; replay and discard them', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('a2', 'A')]);
    const [a1] = await lease(Date.now(), 1);
    await store.deadLetter([{ seq: a1.seq, reason: 'bad email', detail: { pointer: '/data' } }]);
    expect(ids(await lease())).toEqual(['a2']);
    const dead = await store.listDeadLetters();
    expect(dead).toMatchObject([{ messageId: 'a1', reason: 'bad email', detail: { pointer: '/data' }, attempts: 1, payload: { id: 'a1' } }]);
    expect(typeof dead[0].deadAt).toBe('number');
    expect((await store.replay({ all: true })).replayed).toBe(1);
    expect(await store.listDeadLetters()).toEqual([]);
    const stats = await store.stats();
    expect(stats.byDestination.k).toMatchObject({ queued: 1, leased: 1, dead: 0 });
    expect(await store.discard({ all: true })).toBe(0);
  });

  it('selects dead letters by seq, destination and part of the reason; lists them newest first', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B')]);
    await store.enqueue('other', [msg('c1', 'C')]);
    const leased = [...(await lease()), ...(await store.lease('other', { limit: 10, leaseMs: 60_000, owner: 'w1' }))];
    await store.deadLetter(leased.map((m) => ({ seq: m.seq, reason: m.messageId === 'b1' ? 'Klaviyo rejected it: Invalid EMAIL' : 'no' })));
    expect(ids(await store.listDeadLetters({ destination: 'other' }))).toEqual(['c1']);
    expect(ids(await store.listDeadLetters({ limit: 2 }))).toEqual(['c1', 'b1']);
    expect(ids(await store.listDeadLetters({ reason: 'invalid email' }))).toEqual(['b1']);
    expect((await store.replay({ all: true, reason: 'nothing like it' })).replayed).toBe(0);
    await expect(store.replay({})).rejects.toThrow(/say which/);
    expect(await store.discard({ seqs: [leased[0].seq], destination: 'other' })).toBe(0);
    expect(await store.discard({ seqs: [leased[0].seq] })).toBe(1);
    expect((await store.replay({ destination: 'other', all: true })).replayed).toBe(1);
    expect(ids(await store.listDeadLetters())).toEqual(['b1']);
    expect((await store.stats()).byDestination).toMatchObject({ k: { dead: 1 }, other: { dead: 0, queued: 1 } });
    expect((await store.replay({ all: true, reason: 'INVALID' })).replayed).toBe(1);
    expect(await store.listDeadLetters()).toEqual([]);
  });

  it('replay gives a dead letter its full attempts again: the attempts it spent are not counted twice', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    for (let i = 0; i < 3; i++) {
      const [m] = await lease();
      await store.retry([{ seq: m.seq, retryAt: 0, error: 'Klaviyo answered 503' }]);
    }
    const [spent] = await lease();
    expect(spent.attempts).toBe(3);
    await store.deadLetter([{ seq: spent.seq, reason: 'gave up after 4 attempts' }]);
    expect(await store.listDeadLetters()).toMatchObject([{ messageId: 'a1', attempts: 4 }]);
    expect((await store.replay({ all: true })).replayed).toBe(1);
    expect(await lease()).toMatchObject([{ messageId: 'a1', attempts: 0 }]);
  });

  it('replay drops a dead letter whose id was queued again meanwhile', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    const [a1] = await lease();
    await store.deadLetter([{ seq: a1.seq, reason: 'no' }]);
    await store.enqueue('k', [msg('a1', 'A', { id: 'a1', again: true })]);
    expect(await store.replay({ all: true })).toEqual({ replayed: 0, dropped: 1 });
    expect(await store.listDeadLetters()).toEqual([]);
    expect(await lease()).toMatchObject([{ messageId: 'a1', payload: { again: true } }]);
  });

  it('replay keeps one copy per messageId (the newest) and reports the others as dropped', async () => {
    // A client re-sent a1 after its first copy had failed; the re-send failed too: two dead letters, one messageId.
    for (const again of [false, true]) {
      await store.enqueue('k', [msg('a1', 'A', { id: 'a1', again })]);
      const [m] = await lease();
      await store.deadLetter([{ seq: m.seq, reason: 'no' }]);
    }
    await store.enqueue('k', [msg('b1', 'B')]);
    const [b1] = await lease();
    await store.deadLetter([{ seq: b1.seq, reason: 'no' }]);
    expect(await store.replay({ all: true })).toEqual({ replayed: 2, dropped: 1 });
    expect(await store.listDeadLetters()).toEqual([]);
    const back = await lease();
    expect(back.map((m) => [m.messageId, m.payload])).toEqual(
      expect.arrayContaining([
        ['a1', { id: 'a1', again: true }],
        ['b1', expect.anything()],
      ]),
    );
    expect(back).toHaveLength(2);
  });

  it('privacy: suppressions are salted hashes kept under one salt per store; lifting removes only those named', async () => {
    const salt = await store.privacy.salt();
    expect(salt).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.privacy.salt()).toBe(salt);
    expect(await store.privacy.suppressed()).toEqual([]);
    await store.privacy.suppress(['h1', 'h2']);
    await store.privacy.suppress(['h2', 'h3']);
    expect((await store.privacy.suppressed()).sort()).toEqual(['h1', 'h2', 'h3']);
    expect(await store.privacy.unsuppress(['h2', 'nope'])).toBe(1);
    expect((await store.privacy.suppressed()).sort()).toEqual(['h1', 'h3']);
    // Suppressions are not kv settings of their own to anyone reading the kv.
    expect(await store.kvGet('h1')).toBeUndefined();
  });

  it('privacy: purges waiting, leased and dead messages its test names, across pages, and nothing else', async () => {
    const n = 2500; // more than one purge page
    await store.enqueue(
      'k',
      Array.from({ length: n }, (_, i) => msg(`m${i}`, `p${i}`, { id: `m${i}`, userId: i % 100 === 0 ? 'gone' : `u${i}` })),
    );
    await store.enqueue('other', [msg('o1', 'P', { id: 'o1', userId: 'gone' })]);
    const [first] = await lease(Date.now(), 1);
    await store.deadLetter([{ seq: first.seq, reason: 'no' }]); // m0, a dead letter naming the person
    await lease(Date.now(), 10); // some leased
    const r = await store.privacy.purgeMessages((p) => (p as { userId?: string }).userId === 'gone');
    expect(r).toEqual({ queued: n / 100 - 1 + 1, dead: 1 });
    expect(await store.listDeadLetters()).toEqual([]);
    const left = await store.lease('k', { limit: n, leaseMs: 60_000, owner: 'w2', now: Date.now() + 120_000 });
    expect(left.some((m) => (m.payload as { userId: string }).userId === 'gone')).toBe(false);
    expect(left).toHaveLength(n - n / 100);
  });

  it('privacy: purges sync snapshot rows by key or kept row', async () => {
    await store.snapshots.pending('model', 'run-1', [
      { pk: 'gone@example.com', hash: 'h1', messageId: 'a' },
      { pk: 'k2', hash: 'h2', messageId: 'b', row: JSON.stringify({ email: 'gone@example.com' }) },
      { pk: 'k3', hash: 'h3', messageId: 'c', row: JSON.stringify({ email: 'kept@example.com' }) },
    ]);
    const named = (v: unknown) => JSON.stringify(v).includes('gone@example.com');
    expect(await store.privacy.purgeSyncRows(named)).toBe(2);
    expect([...(await store.snapshots.get('model', ['gone@example.com', 'k2', 'k3'])).keys()]).toEqual(['k3']);
  });

  it('privacy: retention drops dead letters and throughput older than the limits; oldest() tells what is left', async () => {
    expect(await store.privacy.oldest()).toEqual({});
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B')]);
    const [a1, b1] = await lease();
    await store.deadLetter([{ seq: a1.seq, reason: 'old' }]);
    await sleep(5);
    const cut = Date.now();
    await sleep(5);
    await store.deadLetter([{ seq: b1.seq, reason: 'new' }]);
    const oldest = await store.privacy.oldest();
    expect(oldest.deadLetter).toBeLessThan(cut);
    expect(oldest.throughput).toBeLessThanOrEqual(Date.now());
    expect(await store.privacy.purgeExpired({ deadBefore: cut, throughputBefore: 0 })).toEqual({ deadLetters: 1, throughputMinutes: 0, deletedRows: 0 });
    expect(ids(await store.listDeadLetters())).toEqual(['b1']);
    expect((await store.privacy.purgeExpired({ deadBefore: 0, throughputBefore: Date.now() + 60_000 })).throughputMinutes).toBeGreaterThan(0);
    expect((await store.privacy.oldest()).throughput).toBeUndefined();
  });

  it('privacy: deleted rows kept in a sync snapshot expire from when they were found gone; seen again, they are kept', async () => {
    // Delivered rows with their data kept (a model acting on deletions).
    await store.snapshots.pending('model', 'run-1', [
      { pk: 'k1', hash: 'h1', messageId: 'a1', row: JSON.stringify({ email: 'one@example.com' }) },
      { pk: 'k2', hash: 'h2', messageId: 'a2', row: JSON.stringify({ email: 'two@example.com' }) },
      { pk: 'k3', hash: 'h3', messageId: 'a3', row: JSON.stringify({ email: 'three@example.com' }) },
    ]);
    await store.snapshots.settle('model', 'k'); // none of their messages is queued: delivered
    expect((await store.privacy.oldest()).deletedRow).toBeUndefined();
    // k1 and k2 are gone from the source: their deletions are queued (and fail: still kept, with their data).
    const before = Date.now();
    await store.snapshots.pending('model', 'run-2', [
      { pk: 'k1', hash: 'deleted', messageId: 'd1' },
      { pk: 'k2', hash: 'deleted', messageId: 'd2' },
    ]);
    const found = (await store.privacy.oldest()).deletedRow!;
    expect(found).toBeGreaterThanOrEqual(before - 1000);
    expect(found).toBeLessThanOrEqual(Date.now() + 1000);
    // Recorded again by a later run: the time it was first found gone stays.
    await sleep(20);
    await store.snapshots.pending('model', 'run-3', [{ pk: 'k1', hash: 'deleted', messageId: 'd1b' }]);
    expect((await store.privacy.oldest()).deletedRow).toBe(found);
    // k2 is back in the source, unchanged: kept, no longer a deleted row.
    await store.snapshots.seen('model', 'run-3', ['k2']);
    const limits = { deadBefore: 0, throughputBefore: 0 };
    expect((await store.privacy.purgeExpired({ ...limits, deletedRowsBefore: found })).deletedRows).toBe(0);
    expect((await store.privacy.purgeExpired({ ...limits, deletedRowsBefore: found + 1 })).deletedRows).toBe(1);
    expect([...(await store.snapshots.get('model', ['k1', 'k2', 'k3'])).keys()].sort()).toEqual(['k2', 'k3']);
    expect(await store.privacy.oldest()).toEqual({});
    // Without a limit, none is purged.
    await store.snapshots.pending('model', 'run-4', [{ pk: 'k3', hash: 'deleted', messageId: 'd3' }]);
    expect((await store.privacy.purgeExpired(limits)).deletedRows).toBe(0);
    expect((await store.privacy.oldest()).deletedRow).toBeDefined();
  });

  it('settles a sync snapshot from the queue: delivered → synced, dead → sent again next run, the rest pending', async () => {
    const n = 12_000; // more than one settling chunk
    const pk = (i: number) => String(i).padStart(6, '0');
    await store.enqueue(
      'k',
      Array.from({ length: n }, (_, i) => msg(`m${i}`, `p${i}`)),
    );
    await store.snapshots.pending(
      'model',
      'run-1',
      Array.from({ length: n }, (_, i) => ({ pk: pk(i), hash: `h${i}`, messageId: `m${i}` })),
    );
    const leased = await lease(Date.now(), n);
    expect(leased).toHaveLength(n);
    const byId = new Map(leased.map((m) => [m.messageId, m.seq]));
    await store.ack(
      Array.from({ length: n }, (_, i) => i)
        .filter((i) => i % 3 === 0)
        .map((i) => byId.get(`m${i}`)!),
    );
    await store.deadLetter(
      Array.from({ length: n }, (_, i) => i)
        .filter((i) => i % 3 === 1)
        .map((i) => ({ seq: byId.get(`m${i}`)!, reason: 'no' })),
    );
    expect(await store.snapshots.settle('model', 'k')).toEqual({ delivered: n / 3, failed: n / 3, pending: n / 3 });
    const snap = await store.snapshots.get('model', [pk(0), pk(1), pk(2), pk(n - 3)]);
    expect([...snap.values()]).toEqual(['h0', null, null, `h${n - 3}`]);
    expect(await store.snapshots.settle('model', 'k')).toEqual({ delivered: 0, failed: 0, pending: n / 3 });
  });

  it('tells where a message stands: queued, leased, retrying, dead, or gone', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B')]);
    expect(await store.messageState('k', 'a1')).toEqual({ state: 'queued', attempts: 0 });
    expect(await store.messageState('other', 'a1')).toBeUndefined();
    const [a, b] = await lease();
    expect(await store.messageState('k', 'a1')).toEqual({ state: 'leased', attempts: 0 });
    await store.retry([{ seq: a.seq, retryAt: Date.now() + 60_000, error: '500 from Klaviyo' }]);
    expect(await store.messageState('k', 'a1')).toEqual({ state: 'retrying', attempts: 1, error: '500 from Klaviyo' });
    await store.deadLetter([{ seq: b.seq, reason: 'Klaviyo rejected it' }]);
    expect(await store.messageState('k', 'b1')).toEqual({ state: 'dead', attempts: 1, error: 'Klaviyo rejected it' });
    await store.enqueue('k', [msg('b1', 'B')]); // sent again after it died: the newest row counts
    expect(await store.messageState('k', 'b1')).toEqual({ state: 'queued', attempts: 0 });
    await store.ack([(await lease(Date.now(), 10, 'w2')).find((m) => m.messageId === 'b1')!.seq]);
    expect(await store.messageState('k', 'b1')).toEqual({ state: 'dead', attempts: 1, error: 'Klaviyo rejected it' });
  });

  it('counts delivered messages and keeps key-values', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B')]);
    await store.ack((await lease()).map((m) => m.seq));
    expect((await store.stats()).byDestination.k).toEqual({ queued: 0, leased: 0, retrying: 0, dead: 0, delivered: 2, filtered: 0 });
    await store.kvSet('x', '1');
    await store.kvSet('x', '2');
    expect(await store.kvGet('x')).toBe('2');
    expect(await store.kvGet('y')).toBeUndefined();
  });

  it('counts messages that matched no action apart from those delivered, in totals and per minute', async () => {
    const t0 = Date.now();
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B'), msg('c1', 'C')]);
    const [a, b, c] = await lease();
    await store.ack([a.seq], [b.seq, c.seq]);
    expect((await store.stats()).byDestination.k).toMatchObject({ queued: 0, leased: 0, delivered: 1, filtered: 2 });
    await store.enqueue('k', [msg('d1', 'D')]);
    await store.ack(
      [],
      (await lease()).map((m) => m.seq),
    ); // filtered alone
    expect((await store.stats()).byDestination.k).toMatchObject({ queued: 0, delivered: 1, filtered: 3 });
    const rows = await store.throughput({ sinceMs: t0 - 60_000, destination: 'k' });
    expect([rows.reduce((n, r) => n + r.delivered, 0), rows.reduce((n, r) => n + r.filtered, 0)]).toEqual([1, 3]);
  });

  it('counts received, delivered, retried and dead-lettered messages per minute', async () => {
    const t0 = Date.now();
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B'), msg('c1', 'C')]);
    await store.enqueue('k', [msg('a1', 'A')]); // a repeat is not counted again
    await store.enqueue('other', [msg('z1', 'Z')]);
    const [a, b, c] = await lease();
    await store.ack([a.seq]);
    await store.deadLetter([{ seq: b.seq, reason: 'bad' }]);
    await store.retry([{ seq: c.seq, retryAt: Date.now(), error: '500' }]);
    await store.release([{ seq: c.seq }]); // a hold-back is not a retry
    const rows = await store.throughput({ sinceMs: t0 - 60_000, destination: 'k' });
    const sum = (f: 'received' | 'delivered' | 'retried' | 'dead') => rows.reduce((n, r) => n + r[f], 0);
    expect(rows.every((r) => r.destination === 'k')).toBe(true);
    expect([sum('received'), sum('delivered'), sum('retried'), sum('dead')]).toEqual([3, 1, 1, 1]);
    expect(await store.throughput({ sinceMs: Date.now() + 120_000 })).toEqual([]);
  });

  it('numbers applied configurations without gaps and refuses appending behind a newer one', async () => {
    const v = store.configVersions;
    expect(await v.latestVersion()).toBe(0);
    expect(await v.append(0, { at: 1, author: 'file', config: '{"a":1}', diff: '[]' })).toBe(1);
    expect(await v.append(0, { at: 2, author: 'admin', config: '{"a":2}', diff: '[]' })).toBeUndefined(); // another process was first
    expect(await v.append(2, { at: 2, author: 'admin', config: '{"a":2}', diff: '[]' })).toBeUndefined(); // no gaps
    expect(await v.append(1, { at: 3, author: 'admin', config: '{"a":3}', diff: '[{"path":"a"}]' })).toBe(2);
    expect(await v.latestVersion()).toBe(2);
    expect(await v.get(1)).toEqual({ version: 1, at: 1, author: 'file', config: '{"a":1}', diff: '[]' });
    expect(await v.get(3)).toBeUndefined();
    expect(await v.list(10)).toEqual([
      { version: 2, at: 3, author: 'admin', diff: '[{"path":"a"}]' },
      { version: 1, at: 1, author: 'file', diff: '[]' },
    ]);
    expect(await v.list(1)).toHaveLength(1);
  });

  it('keeps the bulk jobs of queued messages until they are forgotten, one job per message operation, across reopening', async () => {
    const j = store.bulkJobs;
    await j.save([
      { seq: 7, op: 0, kind: 'profile.upsert', jobId: 'job-1', entries: [0] },
      { seq: 7, op: 1, kind: 'profile.upsert', jobId: 'job-2', entries: [3, 4] },
      { seq: 9, op: 0, kind: 'profile.upsert', jobId: 'job-1', entries: [1] },
    ]);
    // A re-import (identity conflict) is a new job for the same operation: it replaces the first.
    await j.save([{ seq: 7, op: 0, kind: 'profile.upsert', jobId: 'job-3', entries: [0] }]);
    await store.close();
    store = await backend.open();
    expect(await store.bulkJobs.of([7, 8])).toEqual([
      { seq: 7, op: 0, kind: 'profile.upsert', jobId: 'job-3', entries: [0] },
      { seq: 7, op: 1, kind: 'profile.upsert', jobId: 'job-2', entries: [3, 4] },
    ]);
    await store.bulkJobs.forget([7]);
    expect(await store.bulkJobs.of([7, 9])).toEqual([{ seq: 9, op: 0, kind: 'profile.upsert', jobId: 'job-1', entries: [1] }]);
    expect(await store.bulkJobs.of([])).toEqual([]);
  });

  it('a shared rate ledger paces one spacing apart, one missed slot caught up, for every process alike', async () => {
    const ledger = store.rateLedger;
    if (!ledger) return; // the embedded store is one process's: its limiter counts in memory
    const limits = { burst: 10, burstMs: 1100, steady: 150, steadyMs: 60_100, spacingMs: 400 };
    expect(await ledger.take('acct:e', limits)).toBe(0);
    expect(await ledger.take('acct:e', limits)).toBe(0); // the caught-up slot
    const wait = await ledger.take('acct:e', limits);
    expect(wait).toBeGreaterThan(300);
    expect(wait).toBeLessThanOrEqual(400);
    expect(await ledger.take('acct:other', limits)).toBe(0);
    await sleep(wait + 5);
    expect(await ledger.take('acct:e', limits)).toBe(0);
    expect(await ledger.take('acct:e', limits)).toBeGreaterThan(300);
  });

  it('discards a whole destination’s queue, and tells when its oldest waiting message came', async () => {
    await store.enqueue('k', [at('a1', 'A', 1000), at('b1', 'B', 2000), at('c1', 'C', 3000)]);
    await store.enqueue('other', [at('z1', 'Z', 500)]);
    expect(await store.oldestWaiting('k')).toBe(1000);
    const [a] = await lease();
    await store.deadLetter([{ seq: a.seq, reason: 'bad' }]); // a dead letter is not waiting
    expect(await store.oldestWaiting('k')).toBe(2000);
    expect(await store.oldestWaiting('none')).toBeUndefined();
    expect(await store.discardQueue('k')).toBe(3);
    expect(await store.oldestWaiting('k')).toBeUndefined();
    expect((await store.listDeadLetters({ destination: 'k' })).length).toBe(0);
    expect(ids(await store.lease('other', { limit: 10, leaseMs: 60_000, owner: 'w', now: Date.now() }))).toEqual(['z1']);
  });

  it('survives reopening: what was enqueued is there, and migrating again is harmless', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    await store.close();
    store = await backend.open();
    expect(ids(await lease())).toEqual(['a1']);
  });

  describe('ingest’s accept (the inbox, routed into the queue)', () => {
    const leaseFrom = (d: string) => store.lease(d, { limit: 100, leaseMs: 60_000, owner: 'w1' });

    it('routes accepted messages to each destination in the order they were accepted, with the message-id dedupe', async () => {
      await store.enqueue('k', [msg('z1', 'A')]); // the direct path (sync) still works beside it
      await store.accept(['k', 'j'], [msg('a1', 'A'), msg('b1', 'B'), msg('a2', 'A')]);
      await store.accept(['k'], [msg('a1', 'A'), msg('a3', 'A'), msg('z1', 'A'), msg('a3', 'A')]); // repeats, within one too
      await store.accept(['j'], [msg('c1', 'C')]);
      await store.routed();
      expect(ids(await leaseFrom('k'))).toEqual(['z1', 'a1', 'b1', 'a2', 'a3']);
      expect(ids(await leaseFrom('j'))).toEqual(['a1', 'b1', 'a2', 'c1']);
    });

    it('keeps payloads exactly and counts what it routes as received', async () => {
      const payload = { z: 1, a: [null, true, 1.5, -0, 1e21], s: 'nul\u0000 quote\' "dq" \\ é 🎉 \u2028', nested: { b: {}, a: [] } };
      await store.accept(['k'], [msg('a1', 'A', payload), { ...msg('b1', 'B'), receivedAt: 1234 }, msg('a1', 'A')]);
      await store.routed();
      const [a, b] = await leaseFrom('k');
      expect(a.payload).toEqual(JSON.parse(JSON.stringify(payload)));
      expect(Object.keys(a.payload as object)).toEqual(Object.keys(payload));
      expect(a).toMatchObject({ destination: 'k', messageId: 'a1', partitionKey: 'A', attempts: 0 });
      expect(Math.abs(a.receivedAt - Date.now())).toBeLessThan(60_000);
      expect(b.receivedAt).toBe(1234);
      const rows = await store.throughput({ sinceMs: Date.now() - 120_000, destination: 'k' });
      expect(rows.reduce((n, r) => n + r.received, 0)).toBe(2);
    });

    it('tells listeners which destinations received messages, and accepts nothing for no destination', async () => {
      const heard: string[][] = [];
      store.onRouted((d) => heard.push(d));
      await store.accept([], [msg('a1', 'A')]);
      await store.accept(['k'], []);
      await store.accept(['k', 'j'], [msg('a1', 'A')]);
      await store.routed();
      expect(ids(await leaseFrom('k'))).toEqual(['a1']);
      if (backend.name === 'sqlite') expect(heard.flat().sort()).toEqual(['j', 'k']);
    });

    it('what was accepted survives reopening and is routed then', async () => {
      await store.accept(['k'], [msg('a1', 'A'), msg('a2', 'A')]);
      await store.close();
      store = await backend.open();
      await store.accept(['k'], [msg('a3', 'A')]);
      await store.routed();
      expect(ids(await leaseFrom('k'))).toEqual(['a1', 'a2', 'a3']);
      expect(await store.messageState('k', 'a1')).toEqual({ state: 'leased', attempts: 0 });
    });
  });

  describe.runIf(backend.name === 'postgres')('shared by several processes', () => {
    it('migrations applied by processes starting together run once', async () => {
      await backend.reset();
      const stores = [1, 2, 3, 4].map(() => new PostgresStore(backend.url!));
      try {
        await Promise.all(stores.map((s) => s.migrate()));
        await stores[0].enqueue('k', [msg('a1', 'A')]);
        expect(ids(await stores[1].lease('k', { limit: 10, leaseMs: 60_000, owner: 'w1' }))).toEqual(['a1']);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('concurrent leasers never hold two messages of one partition, nor one message twice, and keep order', async () => {
      const stores = [new PostgresStore(backend.url!), new PostgresStore(backend.url!)];
      const partitions = 8;
      const perEnqueuer = 12; // messages per partition from each enqueuer
      const enqueuers = 4; // per store, each enqueueing in order
      const total = partitions * perEnqueuer * enqueuers * stores.length;
      const held = new Map<string, string>(); // partition → message out right now
      const next = new Map<string, number>(); // partition/enqueuer → index due next
      const delivered = new Set<string>();
      const failures: string[] = [];
      const deadline = Date.now() + 20_000;

      // Several enqueuers on both stores fill the same partitions while leasing runs.
      const enqueuer = async (s: Store, e: number) => {
        for (let j = 0; j < perEnqueuer; j++) {
          await s.enqueue(
            'k',
            Array.from({ length: partitions }, (_, p) => msg(`${e}:${p}:${j}`, `p${p}`, { e, j })),
          );
        }
      };
      const leaser = async (s: Store, owner: string) => {
        while (delivered.size < total && !failures.length && Date.now() < deadline) {
          const got = await s.lease('k', { limit: 3, leaseMs: 60_000, owner });
          if (!got.length) {
            await sleep(2);
            continue;
          }
          const mine = new Set<string>();
          const expected = new Map<string, number>(); // within this lease: partition/enqueuer → next index
          for (const m of got) {
            const out = held.get(m.partitionKey);
            if (out && !mine.has(m.partitionKey)) failures.push(`${owner} got ${m.messageId} while ${out} was out`);
            mine.add(m.partitionKey);
            held.set(m.partitionKey, m.messageId);
            const { e, j } = m.payload as { e: number; j: number };
            const k = `${m.partitionKey}/${e}`;
            const due = expected.get(k) ?? next.get(k) ?? 0;
            if (j !== due) failures.push(`${owner} got ${m.messageId}, expected index ${due} first`);
            expected.set(k, j + 1);
          }
          await sleep(Math.random() * 3);
          const acks: number[] = [];
          const retries: Array<{ seq: number; retryAt: number; error: string }> = [];
          const failed = new Set<string>(); // as the worker does: after a retry, the partition's later messages wait too
          for (const m of got) {
            // Cleared before settling: what is observed out is always within the real lease, so no false alarms.
            held.delete(m.partitionKey);
            if (failed.has(m.partitionKey) || Math.random() < 0.1) {
              failed.add(m.partitionKey);
              retries.push({ seq: m.seq, retryAt: Date.now(), error: 'flaky' });
              continue;
            }
            if (delivered.has(m.messageId)) failures.push(`${m.messageId} delivered twice`);
            delivered.add(m.messageId);
            const { e, j } = m.payload as { e: number; j: number };
            next.set(`${m.partitionKey}/${e}`, j + 1);
            acks.push(m.seq);
          }
          await s.retry(retries);
          await s.ack(acks);
        }
      };
      try {
        await Promise.all([
          ...stores.flatMap((s, i) => Array.from({ length: enqueuers }, (_, n) => enqueuer(s, i * enqueuers + n))),
          ...stores.flatMap((s, i) => [1, 2, 3].map((n) => leaser(s, `s${i}w${n}`))),
        ]);
        expect(failures).toEqual([]);
        expect(delivered.size).toBe(total);
        expect((await store.stats()).byDestination.k).toMatchObject({ queued: 0, leased: 0, retrying: 0, delivered: total });
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }, 30_000);
  });
});
