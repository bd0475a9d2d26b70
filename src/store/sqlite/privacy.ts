/** Deletion purges, suppressions and retention on the embedded store (the contract: PrivacyStore in ../types.ts). */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ExpiredCounts, ExpiryLimits, OldestKept, PrivacyStore } from '../types.js';
import { PURGE_CHUNK, SALT_KEY, SUPPRESSED_PREFIX, parsedOrText } from '../privacy-rows.js';

export class SqlitePrivacy implements PrivacyStore {
  constructor(
    private readonly db: Database.Database,
    /** Runs before a purge of messages and after it (the ingest inbox: ./inbox.ts). */
    private readonly aroundPurge: () => Promise<void> = async () => {},
  ) {}

  async salt(): Promise<string> {
    this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(SALT_KEY, randomBytes(32).toString('hex'));
    return (this.db.prepare('SELECT value FROM kv WHERE key = ?').get(SALT_KEY) as { value: string }).value;
  }

  async suppressed(): Promise<string[]> {
    const rows = this.db.prepare(`SELECT key FROM kv WHERE key >= ? AND key < ?`).all(SUPPRESSED_PREFIX, `${SUPPRESSED_PREFIX}\uffff`) as { key: string }[];
    return rows.map((r) => r.key.slice(SUPPRESSED_PREFIX.length));
  }

  async suppress(hashes: string[]): Promise<void> {
    const stmt = this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
    const at = String(Date.now());
    this.db.transaction(() => {
      for (const h of hashes) stmt.run(SUPPRESSED_PREFIX + h, at);
    })();
  }

  async unsuppress(hashes: string[]): Promise<number> {
    const stmt = this.db.prepare('DELETE FROM kv WHERE key = ?');
    return this.db.transaction(() => hashes.reduce((n, h) => n + stmt.run(SUPPRESSED_PREFIX + h).changes, 0))();
  }

  async purgeMessages(names: (payload: unknown) => boolean): Promise<{ queued: number; dead: number }> {
    const page = this.db.prepare('SELECT seq, state, payload FROM queue WHERE seq > ? ORDER BY seq LIMIT ?');
    const drop = this.db.prepare('DELETE FROM queue WHERE seq = ?');
    const out = { queued: 0, dead: 0 };
    await this.aroundPurge();
    // Deleted rows' text is overwritten in the file, not left in free pages.
    this.db.pragma('secure_delete = ON');
    try {
      for (let after = 0; ; ) {
        const rows = page.all(after, PURGE_CHUNK) as Array<{ seq: number; state: string; payload: string }>;
        if (!rows.length) break;
        const doomed = rows.filter((r) => names(parsedOrText(r.payload)));
        this.db.transaction(() => {
          for (const r of doomed) if (drop.run(r.seq).changes) out[r.state === 'dead' ? 'dead' : 'queued']++;
        })();
        after = rows[rows.length - 1].seq;
      }
    } finally {
      this.db.pragma('secure_delete = OFF');
    }
    await this.aroundPurge();
    return out;
  }

  async purgeSyncRows(names: (value: unknown) => boolean): Promise<number> {
    const page = this.db.prepare('SELECT rowid, pk, row, pending_row FROM sync_rows WHERE rowid > ? ORDER BY rowid LIMIT ?');
    const drop = this.db.prepare('DELETE FROM sync_rows WHERE rowid = ?');
    this.db.pragma('secure_delete = ON');
    try {
      return this.purgeRows(page, drop, names, 0);
    } finally {
      this.db.pragma('secure_delete = OFF');
    }
  }

  private purgeRows(page: Database.Statement, drop: Database.Statement, names: (value: unknown) => boolean, n: number): number {
    for (let after = 0; ; ) {
      const rows = page.all(after, PURGE_CHUNK) as Array<{ rowid: number; pk: string; row: string | null; pending_row: string | null }>;
      if (!rows.length) return n;
      const doomed = rows.filter(
        (r) => names(r.pk) || (r.row !== null && names(parsedOrText(r.row))) || (r.pending_row !== null && names(parsedOrText(r.pending_row))),
      );
      this.db.transaction(() => {
        for (const r of doomed) n += drop.run(r.rowid).changes;
      })();
      after = rows[rows.length - 1].rowid;
    }
  }

  async purgeExpired(limits: ExpiryLimits): Promise<ExpiredCounts> {
    const deadLetters = this.db.prepare(`DELETE FROM queue WHERE state = 'dead' AND dead_at < ?`).run(limits.deadBefore).changes;
    const throughputMinutes = this.db.prepare('DELETE FROM throughput WHERE minute < ?').run(Math.floor(limits.throughputBefore / 60_000)).changes;
    const deletedRows = this.db.prepare('DELETE FROM sync_rows WHERE deleted_at < ?').run(limits.deletedRowsBefore ?? 0).changes;
    return { deadLetters, throughputMinutes, deletedRows };
  }

  async oldest(): Promise<OldestKept> {
    const dead = this.db.prepare(`SELECT min(dead_at) AS at FROM queue WHERE state = 'dead'`).get() as { at: number | null };
    const minute = this.db.prepare('SELECT min(minute) AS m FROM throughput').get() as { m: number | null };
    const deleted = this.db.prepare('SELECT min(deleted_at) AS at FROM sync_rows').get() as { at: number | null };
    return {
      ...(dead.at !== null ? { deadLetter: dead.at } : {}),
      ...(minute.m !== null ? { throughput: minute.m * 60_000 } : {}),
      ...(deleted.at !== null ? { deletedRow: deleted.at } : {}),
    };
  }
}
