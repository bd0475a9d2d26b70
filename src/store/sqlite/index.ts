/**
 * Embedded store on better-sqlite3: WAL, synchronous=FULL (an acknowledged enqueue survives a power cut),
 * prepared statements, batch writes in one transaction.
 */
import { SqliteBulkJobs } from './bulk-jobs.js';
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { deadLetterOf, extraCopies, leasedOf, messageStateOf, type DeadCopy } from '../rows.js';
import type { MessageState, ReplayResult } from '../types.js';
import type { DeadLetter, ListDeadLetters, LeasedMessage, MinuteCounts, NewMessage, SelectDeadLetters, Store, StoreStats } from '../types.js';
import { MIGRATIONS } from './schema.js';
import { SqliteSnapshots } from './snapshots.js';
import { SqlitePrivacy } from './privacy.js';
import { SqliteConfigVersions } from './config-versions.js';
import { QueueCounts } from './queue-counts.js';
import { GroupCommit } from '../group-commit.js';
import { Inbox } from './inbox.js';

const minuteOf = (ms: number) => Math.floor(ms / 60_000);
const KEEP_THROUGHPUT_MS = 2 * 24 * 3600_000;

/** A message's newest copy in the queue, live or dead: each half reads its own partial index (schema version 12). */
const NEWEST_COPY = `SELECT state, attempts, last_error, dead_reason FROM (
    SELECT seq, state, attempts, last_error, dead_reason FROM queue WHERE destination = ? AND message_id = ? AND state != 'dead'
    UNION ALL
    SELECT seq, state, attempts, last_error, dead_reason FROM queue WHERE destination = ? AND message_id = ? AND state = 'dead')
  ORDER BY seq DESC LIMIT 1`;

/** The embedded queue's file in a data dir. */
export const queueFile = (dataDir: string, file = 'queue.db') => join(dataDir, file);
/** Its ingest inbox beside it (./inbox.ts): queue.db → queue.inbox.db. */
export const inboxFile = (dataDir: string, file = 'queue.db') => join(dataDir, `${file.replace(/\.db$/, '')}.inbox.db`);

/**
 * The data dir, ready for the queue: created 0700 when missing, and checked writable. The queue holds the admin
 * token, the write keys and every payload (personal data): only the service's user may read it.
 */
function prepareDataDir(dir: string, paths: string[]): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    // The files are created 0600 before SQLite opens them; SQLite gives their WAL and SHM files the same mode.
    for (const path of paths) {
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why: Record<string, string> = {
      EACCES: 'permission denied: the user running the service cannot write there',
      EPERM: 'permission denied: the user running the service cannot write there',
      EROFS: 'the file system is read-only',
      ENOTDIR: 'a part of the path is a file, not a directory',
      ENOSPC: 'the disk is full',
    };
    throw new Error(
      `cannot use the data dir ${dir} for the queue: ${why[e.code ?? ''] ?? e.message} (${e.code ?? 'error'}); choose another with --data-dir / DATA_DIR`,
    );
  }
}

/** `maxUnrouted`: messages accepted and not yet routed into the queue beyond which ingest waits (./inbox.ts). */
export async function createSqliteStore(opts: { dataDir: string; file?: string; maxUnrouted?: number }): Promise<Store> {
  const path = queueFile(opts.dataDir, opts.file);
  const inbox = inboxFile(opts.dataDir, opts.file);
  prepareDataDir(opts.dataDir, [path, inbox]);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  return new SqliteStore(db, new QueueCounts(path), new Inbox({ queue: path, inbox }, db, opts.maxUnrouted));
}

class SqliteStore implements Store {
  private stmts?: ReturnType<SqliteStore['prepare']>;

  readonly snapshots: SqliteSnapshots;
  readonly privacy: SqlitePrivacy;
  readonly configVersions: SqliteConfigVersions;
  readonly bulkJobs: SqliteBulkJobs;

  /** Concurrent enqueues (many ingest requests at once) share one transaction: one fsync for all of them. */
  private readonly writes = new GroupCommit<{ destination: string; messages: NewMessage[]; now: number }>((items) => this.insert(items));

  constructor(
    private readonly db: Database.Database,
    private readonly counts: QueueCounts,
    private readonly inbox: Inbox,
  ) {
    this.snapshots = new SqliteSnapshots(db);
    // Messages still in the inbox are routed first, so the purge finds them in the queue; then the inbox lets go of them.
    this.privacy = new SqlitePrivacy(db, async () => {
      await inbox.routed();
      await inbox.pruneRouted();
    });
    this.configVersions = new SqliteConfigVersions(db);
    this.bulkJobs = new SqliteBulkJobs(db);
  }

  async migrate(): Promise<void> {
    this.db.exec('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const done = new Set(
      this.db
        .prepare('SELECT version FROM migrations')
        .all()
        .map((r: any) => r.version as number),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      })();
    }
    this.stmts = this.prepare();
    this.inbox.open();
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare(
        `INSERT INTO queue (destination, message_id, partition_key, payload, received_at, available_at) VALUES (?, ?, ?, ?, ?, 0)
         ON CONFLICT (destination, message_id) WHERE state != 'dead' DO NOTHING`,
      ),
      // Due messages with nothing earlier in their partition still unsettled (leased, or waiting to be retried).
      // A partition's due messages go out together, oldest first (ORDER BY seq: the limit never skips one).
      candidates: db.prepare(
        `SELECT q.seq, q.destination, q.message_id, q.partition_key, q.payload, q.attempts, q.received_at, q.last_error
           FROM queue q
          WHERE q.destination = ? AND q.state = 'ready' AND q.available_at <= ?
            AND NOT EXISTS (SELECT 1 FROM queue e WHERE e.destination = q.destination AND e.partition_key = q.partition_key
                              AND e.seq < q.seq AND e.state != 'dead' AND e.available_at > ?)
          ORDER BY q.seq LIMIT ?`,
      ),
      expire: db.prepare(`UPDATE queue SET state = 'ready', owner = NULL WHERE destination = ? AND state = 'leased' AND available_at <= ?`),
      // Sets of seqs go in as one JSON array: one statement per batch, not one per message.
      lease: db.prepare(`UPDATE queue SET state = 'leased', owner = ?, available_at = ? WHERE seq IN (SELECT value FROM json_each(?))`),
      ack: db.prepare('DELETE FROM queue WHERE seq IN (SELECT value FROM json_each(?)) RETURNING destination'),
      delivered: db.prepare(
        'INSERT INTO delivered (destination, count, filtered) VALUES (?, ?, ?) ON CONFLICT (destination) DO UPDATE SET count = count + excluded.count, filtered = filtered + excluded.filtered',
      ),
      retry: db.prepare(
        `UPDATE queue SET state = 'ready', owner = NULL, attempts = attempts + 1, available_at = ?, last_error = ? WHERE seq = ? RETURNING destination`,
      ),
      release: db.prepare(`UPDATE queue SET state = 'ready', owner = NULL, available_at = ? WHERE seq = ?`),
      renew: db.prepare(`UPDATE queue SET available_at = ? WHERE seq IN (SELECT value FROM json_each(?)) AND state = 'leased' AND owner = ?`),
      dead: db.prepare(`UPDATE queue SET state = 'dead', owner = NULL, dead_reason = ?, dead_detail = ?, dead_at = ?, attempts = attempts + 1 WHERE seq = ?`),
      count: db.prepare(
        `INSERT INTO throughput (destination, minute, received, delivered, dead, retried, filtered) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (destination, minute) DO UPDATE SET received = received + excluded.received,
           delivered = delivered + excluded.delivered, dead = dead + excluded.dead, retried = retried + excluded.retried,
           filtered = filtered + excluded.filtered`,
      ),
      deadDestination: db.prepare('SELECT destination FROM queue WHERE seq = ?'),
      kvGet: db.prepare('SELECT value FROM kv WHERE key = ?'),
      kvSet: db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  private get s() {
    if (!this.stmts) throw new Error('the store is not migrated: call migrate() first');
    return this.stmts;
  }

  async enqueue(destination: string, messages: NewMessage[]): Promise<void> {
    if (!messages.length) return;
    void this.s; // not migrated: fail this call, not the group it would join
    return this.writes.add({ destination, messages, now: Date.now() });
  }

  async accept(destinations: string[], messages: NewMessage[]): Promise<void> {
    if (!messages.length || !destinations.length) return;
    void this.s; // not migrated: fail this call, not the group it would join
    return this.inbox.append(destinations, messages);
  }

  routed(): Promise<void> {
    return this.inbox.routed();
  }

  onRouted(listener: (destinations: string[]) => void): void {
    this.inbox.onRouted(listener);
  }

  /** One transaction for a group of enqueues (./group-commit.ts); durable once it returns (synchronous=FULL). */
  private insert(items: Array<{ destination: string; messages: NewMessage[]; now: number }>): void {
    this.db.transaction(() => {
      for (const { destination, messages, now } of items) {
        let received = 0;
        for (const m of messages)
          received += this.s.insert.run(destination, m.messageId, m.partitionKey, JSON.stringify(m.payload), m.receivedAt ?? now).changes;
        if (received) this.s.count.run(destination, minuteOf(now), received, 0, 0, 0, 0);
      }
    })();
  }

  async lease(destination: string, opts: { limit: number; leaseMs: number; owner: string; now?: number }): Promise<LeasedMessage[]> {
    const now = opts.now ?? Date.now();
    const rows = this.db.transaction(() => {
      this.s.expire.run(destination, now);
      const rows = this.s.candidates.all(destination, now, now, opts.limit) as Parameters<typeof leasedOf>[0][];
      if (rows.length) this.s.lease.run(opts.owner, now + opts.leaseMs, JSON.stringify(rows.map((r) => r.seq)));
      return rows;
    })();
    return rows.map(leasedOf); // payloads parsed after the commit, not while holding the write lock
  }

  async renewLeases(seqs: number[], owner: string, leaseMs: number): Promise<number> {
    if (!seqs.length) return 0;
    return this.s.renew.run(Date.now() + leaseMs, JSON.stringify(seqs), owner).changes;
  }

  async ack(seqs: number[], filtered: number[] = []): Promise<void> {
    if (!seqs.length && !filtered.length) return;
    const minute = minuteOf(Date.now());
    this.db.transaction(() => {
      const counts = new Map<string, { delivered: number; filtered: number }>();
      for (const [list, kind] of [
        [seqs, 'delivered'],
        [filtered, 'filtered'],
      ] as const) {
        if (!list.length) continue;
        for (const { destination } of this.s.ack.iterate(JSON.stringify(list)) as Iterable<{ destination: string }>) {
          let c = counts.get(destination);
          if (!c) counts.set(destination, (c = { delivered: 0, filtered: 0 }));
          c[kind]++;
        }
      }
      for (const [destination, c] of counts)
        this.s.delivered.run(destination, c.delivered, c.filtered), this.s.count.run(destination, minute, 0, c.delivered, 0, 0, c.filtered);
    })();
  }

  async retry(items: Array<{ seq: number; retryAt: number; error: string }>): Promise<void> {
    const minute = minuteOf(Date.now());
    this.db.transaction(() =>
      items.forEach((i) => {
        const row = this.s.retry.get(i.retryAt, i.error, i.seq) as { destination: string } | undefined;
        if (row) this.s.count.run(row.destination, minute, 0, 0, 0, 1, 0);
      }),
    )();
  }

  async release(items: Array<{ seq: number; retryAt?: number }>): Promise<void> {
    this.db.transaction(() => items.forEach((i) => this.s.release.run(i.retryAt ?? 0, i.seq)))();
  }

  async deadLetter(items: Array<{ seq: number; reason: string; detail?: unknown }>): Promise<void> {
    const now = Date.now();
    this.db
      .transaction(() =>
        items.forEach((i) => {
          const row = this.s.deadDestination.get(i.seq) as { destination: string } | undefined;
          if (!row || !this.s.dead.run(i.reason, i.detail === undefined ? null : JSON.stringify(i.detail), now, i.seq).changes) return;
          this.s.count.run(row.destination, minuteOf(now), 0, 0, 1, 0, 0);
        }),
      )
      .immediate(); // reads, then writes: take the write lock first, or another process's commit in between fails it
  }

  async messageState(destination: string, messageId: string): Promise<MessageState | undefined> {
    // The inbox first: a message the router moves in between is then seen in the queue, never in neither.
    const waiting = this.inbox.holds(destination, messageId);
    const row = this.db.prepare(NEWEST_COPY).get(destination, messageId, destination, messageId) as Parameters<typeof messageStateOf>[0] | undefined;
    // A copy waiting in the inbox is queued, unless a live one in the queue will make the router drop it.
    if (row && row.state !== 'dead') return messageStateOf(row);
    if (waiting) return { state: 'queued', attempts: 0 };
    return row && messageStateOf(row);
  }

  async listDeadLetters(filter: ListDeadLetters = {}): Promise<DeadLetter[]> {
    const { where, args } = this.selectDead({ ...filter, all: true });
    const rows = this.db
      .prepare(
        `SELECT seq, destination, message_id, payload, dead_reason, dead_detail, attempts, received_at, dead_at FROM queue
          WHERE ${where} ORDER BY seq DESC LIMIT ?`,
      )
      .all(...args, filter.limit ?? 100) as any[];
    return rows.map(deadLetterOf);
  }

  private selectDead(f: SelectDeadLetters): { where: string; args: unknown[] } {
    if (!f.all && !f.seqs?.length) throw new Error('say which dead letters: seqs, or all');
    const parts = [`state = 'dead'`];
    const args: unknown[] = [];
    if (f.destination) parts.push('destination = ?'), args.push(f.destination);
    if (f.reason) parts.push('instr(lower(dead_reason), lower(?)) > 0'), args.push(f.reason);
    if (f.seqs?.length) parts.push(`seq IN (${f.seqs.map(() => '?').join(',')})`), args.push(...f.seqs);
    return { where: parts.join(' AND '), args };
  }

  async replay(filter: SelectDeadLetters): Promise<ReplayResult> {
    const { where, args } = this.selectDead(filter);
    return this.db.transaction(() => {
      const selected = this.db.prepare(`SELECT seq, destination, message_id FROM queue WHERE ${where}`).all(...args) as DeadCopy[];
      const drop = this.db.prepare('DELETE FROM queue WHERE seq = ?');
      const live = this.db.prepare(`SELECT 1 FROM queue WHERE destination = ? AND message_id = ? AND state != 'dead'`);
      const extra = extraCopies(selected, (d) => live.get(d.destination, d.message_id) !== undefined);
      for (const seq of extra) drop.run(seq);
      const replayed = this.db
        .prepare(`UPDATE queue SET state = 'ready', attempts = 0, available_at = 0, dead_reason = NULL, dead_detail = NULL, dead_at = NULL WHERE ${where}`)
        .run(...args).changes;
      return { replayed, dropped: extra.length };
    })();
  }

  async discard(filter: SelectDeadLetters): Promise<number> {
    const { where, args } = this.selectDead(filter);
    return this.db.prepare(`DELETE FROM queue WHERE ${where}`).run(...args).changes;
  }

  async discardQueue(destination: string): Promise<number> {
    return this.db.prepare('DELETE FROM queue WHERE destination = ?').run(destination).changes;
  }

  async oldestWaiting(destination: string): Promise<number | undefined> {
    const r = this.db.prepare(`SELECT MIN(received_at) AS at FROM queue WHERE destination = ? AND state != 'dead'`).get(destination) as { at: number | null };
    return r.at ?? undefined;
  }

  async releaseAllLeases(): Promise<number> {
    return this.db.prepare(`UPDATE queue SET state = 'ready', owner = NULL, available_at = 0 WHERE state = 'leased'`).run().changes;
  }

  async stats(): Promise<StoreStats> {
    const now = Date.now();
    const byDestination: StoreStats['byDestination'] = {};
    const get = (d: string) => (byDestination[d] ??= { queued: 0, leased: 0, retrying: 0, dead: 0, delivered: 0, filtered: 0 });
    // Accepted, not routed yet: queued all the same. The inbox is read first and the queue's counts come with the
    // routed mark of their own snapshot, so a record the router moves in between is counted once (in the queue),
    // never twice and never in neither.
    const pending = this.inbox.pendingRecords();
    const { rows, routed } = await this.counts.count(now);
    for (const r of rows) Object.assign(get(r.destination), { queued: r.queued, leased: r.leased, retrying: r.retrying, dead: r.dead });
    for (const r of pending) if (r.id > routed) for (const d of r.destinations) get(d).queued += r.n;
    for (const r of this.db.prepare('SELECT destination, count, filtered FROM delivered').all() as any[])
      Object.assign(get(r.destination), { delivered: r.count, filtered: r.filtered });
    return { byDestination };
  }

  async throughput(filter: { sinceMs: number; destination?: string }): Promise<MinuteCounts[]> {
    this.db.prepare('DELETE FROM throughput WHERE minute < ?').run(minuteOf(Date.now() - KEEP_THROUGHPUT_MS));
    return this.db
      .prepare(
        `SELECT destination, minute, received, delivered, filtered, retried, dead FROM throughput
          WHERE minute >= ? ${filter.destination ? 'AND destination = ?' : ''} ORDER BY destination, minute`,
      )
      .all(minuteOf(filter.sinceMs), ...(filter.destination ? [filter.destination] : [])) as MinuteCounts[];
  }

  async kvGet(key: string): Promise<string | undefined> {
    return (this.s.kvGet.get(key) as { value: string } | undefined)?.value;
  }

  async kvSet(key: string, value: string): Promise<void> {
    this.s.kvSet.run(key, value);
  }

  async close(): Promise<void> {
    await this.writes.drain();
    await this.inbox.close();
    await this.counts.close();
    this.db.close();
  }
}
