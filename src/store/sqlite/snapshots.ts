/** Warehouse sync snapshots in the embedded SQLite store (see Snapshots in ../types.ts). */
import type Database from 'better-sqlite3';
import type { SnapshotChange, Snapshots } from '../types.js';

/** Pending rows settled per transaction. */
const SETTLE_CHUNK = 5000;

const CHUNK = 500; // keys per IN (…) list, well under SQLite's variable limit

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

export class SqliteSnapshots implements Snapshots {
  constructor(private readonly db: Database.Database) {}

  async get(model: string, pks: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const part of chunks(pks)) {
      const rows = this.db.prepare(`SELECT pk, hash FROM sync_rows WHERE model = ? AND pk IN (${part.map(() => '?').join(',')})`).all(model, ...part) as Array<{ pk: string; hash: string | null }>;
      for (const r of rows) out.set(r.pk, r.hash);
    }
    return out;
  }

  async seen(model: string, runId: string, pks: string[]): Promise<void> {
    const stmt = this.db.prepare('UPDATE sync_rows SET seen_run = ? WHERE model = ? AND pk = ?');
    this.db.transaction(() => pks.forEach((pk) => stmt.run(runId, model, pk)))();
  }

  async pending(model: string, runId: string, changes: SnapshotChange[]): Promise<void> {
    const stmt = this.db.prepare(
      `INSERT INTO sync_rows (model, pk, pending_hash, pending_id, pending_row, seen_run) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, pk) DO UPDATE SET pending_hash = excluded.pending_hash, pending_id = excluded.pending_id,
         pending_row = excluded.pending_row, seen_run = excluded.seen_run`,
    );
    this.db.transaction(() => changes.forEach((c) => stmt.run(model, c.pk, c.hash, c.messageId, c.row ?? null, runId)))();
  }

  async unseen(model: string, runId: string, limit: number, afterPk = ''): Promise<Array<{ pk: string; hash: string | null; row?: string }>> {
    const rows = this.db
      .prepare(`SELECT pk, hash, row FROM sync_rows WHERE model = ? AND (seen_run IS NULL OR seen_run != ?) AND pk > ? ORDER BY pk LIMIT ?`)
      .all(model, runId, afterPk, limit) as Array<{ pk: string; hash: string | null; row: string | null }>;
    return rows.map((r) => ({ pk: r.pk, hash: r.hash, ...(r.row !== null ? { row: r.row } : {}) }));
  }

  async forget(model: string, pks: string[]): Promise<void> {
    const stmt = this.db.prepare('DELETE FROM sync_rows WHERE model = ? AND pk = ?');
    this.db.transaction(() => pks.forEach((pk) => stmt.run(model, pk)))();
  }

  async settle(model: string, destination: string): Promise<{ delivered: number; failed: number; pending: number }> {
    // In key ranges, one short transaction each, yielding in between: after a big run there are a million pending
    // rows, and one transaction over them all would stall this process (its ingest server, its workers) for seconds.
    let delivered = 0;
    let failed = 0;
    for (let after = ''; ; ) {
      const chunk = this.settleRange(model, destination, after);
      if (!chunk) break;
      delivered += chunk.delivered;
      failed += chunk.failed;
      after = chunk.last;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { n } = this.db.prepare('SELECT count(*) AS n FROM sync_rows WHERE model = ? AND pending_id IS NOT NULL').get(model) as { n: number };
    return { delivered, failed, pending: n };
  }

  private settleRange(model: string, destination: string, after: string): { delivered: number; failed: number; last: string } | undefined {
    return this.db.transaction(() => {
      const keys = this.db
        .prepare('SELECT pk FROM sync_rows WHERE model = ? AND pk > ? AND pending_id IS NOT NULL ORDER BY pk LIMIT ?')
        .pluck()
        .all(model, after, SETTLE_CHUNK) as string[];
      if (!keys.length) return undefined;
      const last = keys[keys.length - 1];
      const range = 'model = ? AND pk > ? AND pk <= ? AND pending_id IS NOT NULL';
      // Gone from the queue = delivered (acked messages are deleted); still there as 'dead' = failed.
      const inQueue = `EXISTS (SELECT 1 FROM queue q WHERE q.destination = ? AND q.message_id = sync_rows.pending_id)`;
      const dead = `EXISTS (SELECT 1 FROM queue q WHERE q.destination = ? AND q.message_id = sync_rows.pending_id AND q.state = 'dead')`;
      const gone = this.db.prepare(`DELETE FROM sync_rows WHERE ${range} AND pending_hash = 'deleted' AND NOT ${inQueue}`).run(model, after, last, destination).changes;
      const synced = this.db
        .prepare(`UPDATE sync_rows SET hash = pending_hash, row = pending_row, pending_hash = NULL, pending_id = NULL, pending_row = NULL WHERE ${range} AND NOT ${inQueue}`)
        .run(model, after, last, destination).changes;
      const failed = this.db
        .prepare(`UPDATE sync_rows SET pending_hash = NULL, pending_id = NULL, pending_row = NULL WHERE ${range} AND ${dead}`)
        .run(model, after, last, destination).changes;
      return { delivered: gone + synced, failed, last };
    })();
  }
}
