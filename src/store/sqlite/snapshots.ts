/** Warehouse sync snapshots in the embedded SQLite store (see Snapshots in ../types.ts). */
import type Database from 'better-sqlite3';
import type { SnapshotChange, Snapshots } from '../types.js';

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
    return this.db.transaction(() => {
      // Gone from the queue = delivered (acked messages are deleted); still there as 'dead' = failed.
      const inQueue = `EXISTS (SELECT 1 FROM queue q WHERE q.destination = ? AND q.message_id = sync_rows.pending_id)`;
      const dead = `EXISTS (SELECT 1 FROM queue q WHERE q.destination = ? AND q.message_id = sync_rows.pending_id AND q.state = 'dead')`;
      const gone = this.db.prepare(`DELETE FROM sync_rows WHERE model = ? AND pending_id IS NOT NULL AND pending_hash = 'deleted' AND NOT ${inQueue}`).run(model, destination).changes;
      const synced = this.db
        .prepare(
          `UPDATE sync_rows SET hash = pending_hash, row = pending_row, pending_hash = NULL, pending_id = NULL, pending_row = NULL
            WHERE model = ? AND pending_id IS NOT NULL AND NOT ${inQueue}`,
        )
        .run(model, destination).changes;
      const failed = this.db
        .prepare(`UPDATE sync_rows SET pending_hash = NULL, pending_id = NULL, pending_row = NULL WHERE model = ? AND pending_id IS NOT NULL AND ${dead}`)
        .run(model, destination).changes;
      const { n } = this.db.prepare('SELECT count(*) AS n FROM sync_rows WHERE model = ? AND pending_id IS NOT NULL').get(model) as { n: number };
      return { delivered: gone + synced, failed, pending: n };
    })();
  }
}
