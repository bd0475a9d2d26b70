/** SQLite-only behaviour; what every store does is in store-contract.test.ts. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createSqliteStore, queueFile } from '../sqlite/index.js';
import { nextRouteBatch, ROUTE_BATCH, ROUTE_BATCH_MAX } from '../sqlite/router.js';
import type { Store } from '../types.js';

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-store-'));
  store = await createSqliteStore({ dataDir: dir });
  await store.migrate();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqlite store', () => {
  it('releaseAllLeases hands a crashed run’s leases back at once, without counting an attempt', async () => {
    await store.enqueue('k', [
      { messageId: 'a1', partitionKey: 'A', payload: {} },
      { messageId: 'b1', partitionKey: 'B', payload: {} },
    ]);
    const now = Date.now();
    await store.lease('k', { limit: 10, leaseMs: 60_000, owner: 'crashed', now });
    expect(await store.releaseAllLeases!()).toBe(2);
    expect(await store.lease('k', { limit: 10, leaseMs: 60_000, owner: 'w1', now })).toMatchObject([
      { messageId: 'a1', attempts: 0 },
      { messageId: 'b1', attempts: 0 },
    ]);
  });
});

describe('sqlite store: concurrent enqueues (group commit)', () => {
  it('stores every concurrent caller’s messages, and a caller whose messages cannot be stored fails alone', async () => {
    const unstorable = { n: 1n }; // JSON.stringify throws on a BigInt
    const calls = [
      store.enqueue('k', [{ messageId: 'a', partitionKey: 'A', payload: { v: 1 } }]),
      store.enqueue('k', [{ messageId: 'x', partitionKey: 'X', payload: unstorable }]),
      store.enqueue('j', [{ messageId: 'b', partitionKey: 'B', payload: { v: 2 } }]),
    ];
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.messageState('k', 'a')).toEqual({ state: 'queued', attempts: 0 });
    expect(await store.messageState('j', 'b')).toEqual({ state: 'queued', attempts: 0 });
    expect(await store.messageState('k', 'x')).toBeUndefined();
    expect((await store.stats()).byDestination).toMatchObject({ k: { queued: 1 }, j: { queued: 1 } });
  });
});

describe('sqlite store: the ingest inbox', () => {
  const m = (id: string, key: string) => ({ messageId: id, partitionKey: key, payload: { id } });
  const leased = async (d: string) => (await store.lease(d, { limit: 10, leaseMs: 60_000, owner: 'w1' })).map((x) => x.messageId);

  it('counts accepted messages as queued until the router has moved them, then moves them in order', async () => {
    // Another connection holds the queue's write lock: the router cannot route, the inbox keeps what was accepted.
    const hold = new Database(queueFile(dir));
    hold.exec('BEGIN IMMEDIATE');
    try {
      await store.accept(['k', 'j'], [m('a1', 'A'), m('b1', 'B')]);
      await store.accept(['k'], [m('a2', 'A'), m('a1', 'A')]);
      expect(await store.messageState('k', 'a2')).toEqual({ state: 'queued', attempts: 0 });
      expect(await store.messageState('j', 'b1')).toEqual({ state: 'queued', attempts: 0 });
      expect(await store.messageState('j', 'a2')).toBeUndefined();
      // The repeat of a1 is counted until the router drops it: the counts are the inbox's, not a dedupe.
      expect((await store.stats()).byDestination).toMatchObject({ k: { queued: 4 }, j: { queued: 2 } });
      expect(hold.prepare('SELECT count(*) FROM queue').pluck().get()).toBe(0);
    } finally {
      hold.exec('COMMIT');
      hold.close();
    }
    await store.routed();
    expect(await leased('k')).toEqual(['a1', 'b1', 'a2']);
    expect(await leased('j')).toEqual(['a1', 'b1']);
    expect((await store.stats()).byDestination).toMatchObject({ k: { queued: 0, leased: 3 }, j: { queued: 0, leased: 2 } });
  });

  it('counts each accepted message once while the router moves records between the inbox and the queue', async () => {
    // stats() reads the inbox, then the queue on another thread: a record routed in between must not be counted in
    // both (nor in neither). Nothing is leased, so queued is exactly what was accepted, at every moment.
    let accepted = 0;
    const seen: number[] = [];
    for (let i = 0; i < 300; i++) {
      await store.accept(['k'], [m(`c${i}a`, `P${i % 7}`), m(`c${i}b`, `P${i % 5}`)]);
      accepted += 2;
      const queued = (await store.stats()).byDestination.k?.queued ?? 0;
      if (queued !== accepted) seen.push(queued - accepted);
    }
    expect(seen).toEqual([]);
  });

  it('answers an append only once its record is committed (the writer thread commits; the caller waits)', async () => {
    await store.accept(['k'], [m('w0', 'A')]); // the writer is up
    // Another connection holds the inbox's write lock: the writer cannot commit, so the append must not resolve.
    const hold = new Database(join(dir, 'queue.inbox.db'));
    hold.exec('BEGIN IMMEDIATE');
    let answered = false;
    const append = store.accept(['k'], [m('w1', 'A')]).then(() => (answered = true));
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false);
    } finally {
      hold.exec('COMMIT');
    }
    await append;
    // Once answered, the record is in the file for any other connection (committed, not pending in a thread).
    const ids = hold.prepare(`SELECT m.value ->> 0 FROM inbox, json_each(inbox.messages) m`).pluck().all();
    hold.close();
    expect(ids).toContain('w1');
  });

  it('routes each payload whole, whatever its text: multi-byte characters, escapes, a received time', async () => {
    const payloads = [{ t: 'plain' }, { t: 'é 😀 中文 \u2028', q: '"\\' }, { t: 'x'.repeat(3000), n: [1.5, null, true] }, null, { t: 'ascii again' }];
    await store.accept(
      ['k', 'j'],
      payloads.map((payload, i) => ({ messageId: `u${i}`, partitionKey: 'P', payload, ...(i === 3 ? { receivedAt: 1234 } : {}) })),
    );
    await store.routed();
    for (const d of ['k', 'j']) {
      const got = await store.lease(d, { limit: 10, leaseMs: 60_000, owner: 'w1' });
      expect(got.map((x) => x.payload)).toEqual(payloads);
      expect(got[3].receivedAt).toBe(1234);
    }
  });

  it('routes the records an earlier version left in its inbox (payloads inside the messages JSON)', async () => {
    await store.close();
    const d2 = mkdtempSync(join(tmpdir(), 'kd-store-'));
    try {
      // The inbox as the previous version wrote it: no payloads column, [messageId, partitionKey, payload, receivedAt?].
      const old = new Database(join(d2, 'queue.inbox.db'));
      old.exec(`CREATE TABLE inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, destinations TEXT NOT NULL,
                received_at INTEGER NOT NULL, messages TEXT NOT NULL)`);
      const rows = [
        ['o1', 'A', { v: 'é' }],
        ['o2', 'A', { v: 2 }, 99],
      ];
      old.prepare('INSERT INTO inbox (n, destinations, received_at, messages) VALUES (?, ?, ?, ?)').run(2, '["k"]', 42, JSON.stringify(rows));
      old.close();
      store = await createSqliteStore({ dataDir: d2 });
      await store.migrate();
      await store.accept(['k'], [m('n1', 'A')]);
      await store.routed();
      const got = await store.lease('k', { limit: 10, leaseMs: 60_000, owner: 'w1' });
      expect(got.map((x) => [x.messageId, x.payload, x.receivedAt])).toEqual([
        ['o1', { v: 'é' }, 42],
        ['o2', { v: 2 }, 99],
        ['n1', { id: 'n1' }, expect.any(Number)],
      ]);
    } finally {
      await store.close();
      rmSync(d2, { recursive: true, force: true });
      store = await createSqliteStore({ dataDir: dir });
      await store.migrate();
    }
  });

  it('a new inbox file beside an old queue never numbers its records behind the routed mark', async () => {
    await store.accept(['k'], [m('a1', 'A')]);
    await store.accept(['k'], [m('a2', 'A')]);
    await store.routed();
    await store.close();
    for (const f of readdirSync(dir).filter((f) => f.startsWith('queue.inbox.db'))) rmSync(join(dir, f));
    store = await createSqliteStore({ dataDir: dir });
    await store.migrate();
    await store.accept(['k'], [m('a3', 'A')]);
    await store.routed();
    expect(await leased('k')).toEqual(['a1', 'a2', 'a3']);
  });
});

describe('sqlite store: the ingest inbox’s limit', () => {
  it('an append waits while the router is behind by the limit, and goes on once it has caught up', async () => {
    await store.close();
    store = await createSqliteStore({ dataDir: dir, maxUnrouted: 3 });
    await store.migrate();
    const m = (id: string) => ({ messageId: id, partitionKey: 'A', payload: { id } });
    const hold = new Database(queueFile(dir));
    hold.exec('BEGIN IMMEDIATE'); // the router cannot move anything
    let third = false;
    try {
      await store.accept(['k'], [m('a1'), m('a2')]);
      await store.accept(['k'], [m('a3')]); // 2 unrouted: room for one more record
      const waiting = store.accept(['k'], [m('a4')]).then(() => (third = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(third).toBe(false);
      hold.exec('COMMIT');
      await waiting;
    } finally {
      if (hold.inTransaction) hold.exec('COMMIT');
      hold.close();
    }
    await store.routed();
    expect((await store.lease('k', { limit: 10, leaseMs: 60_000, owner: 'w' })).map((x) => x.messageId)).toEqual(['a1', 'a2', 'a3', 'a4']);
  });
});

describe('sqlite store: routed records', () => {
  it('leave the inbox once the router is idle, with no append after them', async () => {
    await store.accept(['k'], [{ messageId: 'a1', partitionKey: 'A', payload: { email: 'gone@example.com' } }]);
    await store.routed();
    const inbox = new Database(join(dir, 'queue.inbox.db'), { readonly: true });
    try {
      const rows = () => inbox.prepare('SELECT count(*) FROM inbox').pluck().get();
      const end = Date.now() + 5000;
      while (rows() !== 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(rows()).toBe(0);
    } finally {
      inbox.close();
    }
  });
});

describe('sqlite store: routing transactions', () => {
  const next = (current: number, moved: number, ms: number) => nextRouteBatch(current, moved, ms, 16_000, 64_000, 1000);

  it('grow while they stay short, shrink when slow, within their bounds; a small one (routing keeps up) changes nothing', () => {
    expect(next(16_000, 16_000, 250)).toBe(64_000); // 64 messages a ms: a second's worth is more than the most
    expect(next(16_000, 16_000, 500)).toBe(32_000);
    expect(next(32_000, 32_000, 4000)).toBe(16_000); // slow: back to the least
    expect(next(32_000, 20_000, 500)).toBe(40_000);
    expect(next(32_000, 1_000, 1)).toBe(32_000); // a small transaction costs more per message and says nothing
  });

  it('route a backlog larger than one transaction in accepted order, each message once', async () => {
    const total = ROUTE_BATCH_MAX + ROUTE_BATCH; // at least two transactions whatever their pace
    const hold = new Database(queueFile(dir));
    hold.exec('BEGIN IMMEDIATE');
    const ids: string[] = [];
    try {
      for (let r = 0; r * 1000 < total; r++) {
        const batch = Array.from({ length: 1000 }, (_, i) => `m${r}-${i}`);
        ids.push(...batch);
        await store.accept(
          ['k'],
          batch.map((id, i) => ({ messageId: id, partitionKey: `p${i % 7}`, payload: { id } })),
        );
      }
      await store.accept(['k'], [{ messageId: 'm0-0', partitionKey: 'p0', payload: { id: 'again' } }]); // a repeat: dropped
    } finally {
      hold.exec('COMMIT');
      hold.close();
    }
    await store.routed();
    const db = new Database(queueFile(dir), { readonly: true });
    try {
      expect(db.prepare('SELECT message_id FROM queue ORDER BY seq').pluck().all()).toEqual(ids);
    } finally {
      db.close();
    }
  });
});
