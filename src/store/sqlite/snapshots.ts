/** Warehouse sync snapshots in the embedded SQLite store (see Snapshots in ../types.ts). */
import type Database from 'better-sqlite3';
import type { SnapshotChange, Snapshots, UnseenRow } from '../types.js';

/** Pending rows settled per transaction. */
const SETTLE_CHUNK = 5000;

const CHUNK = 500; // keys per IN (…) list, well under SQLite's variable limit

/** A killed dry run's scratch keys are dropped after this long. */
const KEEP_DRY_SEEN_MS = 24 * 3600_000;

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

/**
 * Every transaction here that writes is IMMEDIATE: it takes the write lock up front, waiting (busy_timeout) for
 * another process's writer. A deferred transaction that reads first and writes second fails at once with
 * "database is locked" when another connection wrote in between (its read snapshot can no longer be upgraded).
 */
export class SqliteSnapshots implements Snapshots {
  constructor(private readonly db: Database.Database) {}

  async get(model: string, pks: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const part of chunks(pks)) {
      const rows = this.db.prepare(`SELECT pk, hash FROM sync_rows WHERE model = ? AND pk IN (${part.map(() => '?').join(',')})`).all(model, ...part) as Array<{
        pk: string;
        hash: string | null;
      }>;
      for (const r of rows) out.set(r.pk, r.hash);
    }
    return out;
  }

  async rowless(model: string, pks: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(pks)) {
      const rows = this.db
        .prepare(`SELECT pk FROM sync_rows WHERE model = ? AND hash IS NOT NULL AND row IS NULL AND pk IN (${part.map(() => '?').join(',')})`)
        .pluck()
        .all(model, ...part) as string[];
      rows.forEach((pk) => out.add(pk));
    }
    return out;
  }

  async keepRows(model: string, rows: Array<{ pk: string; hash: string; row: string }>): Promise<void> {
    if (!rows.length) return;
    const stmt = this.db.prepare('UPDATE sync_rows SET row = ? WHERE model = ? AND pk = ? AND hash = ? AND row IS NULL');
    this.db.transaction(() => rows.forEach((r) => stmt.run(r.row, model, r.pk, r.hash))).immediate();
  }

  async seen(model: string, runId: string, pks: string[], dryRun = false): Promise<void> {
    if (!pks.length) return;
    if (dryRun) {
      const stmt = this.db.prepare('INSERT INTO sync_seen (run, pk, at) VALUES (?, ?, ?) ON CONFLICT (run, pk) DO NOTHING');
      const now = Date.now();
      this.db.transaction(() => pks.forEach((pk) => stmt.run(runId, pk, now))).immediate();
      return;
    }
    // In the source again: no longer a deleted row kept (retention).
    const stmt = this.db.prepare('UPDATE sync_rows SET seen_run = ?, deleted_at = NULL WHERE model = ? AND pk = ?');
    this.db.transaction(() => pks.forEach((pk) => stmt.run(runId, model, pk))).immediate();
  }

  async pending(model: string, runId: string, changes: SnapshotChange[]): Promise<void> {
    const stmt = this.db.prepare(
      `INSERT INTO sync_rows (model, pk, pending_hash, pending_id, pending_after, pending_row, seen_run, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, pk) DO UPDATE SET pending_hash = excluded.pending_hash, pending_id = excluded.pending_id,
         pending_after = excluded.pending_after, pending_row = excluded.pending_row, seen_run = excluded.seen_run,
         deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(sync_rows.deleted_at, excluded.deleted_at) END`,
    );
    // A deletion records when the row was first found gone (retention.deletedRowDays counts from then); any other change clears it.
    const now = Date.now();
    this.db
      .transaction(() =>
        changes.forEach((c) => stmt.run(model, c.pk, c.hash, c.messageId, c.after ?? null, c.row ?? null, runId, c.hash === 'deleted' ? now : null)),
      )
      .immediate();
  }

  private unseenWhere(dryRun: boolean): string {
    return dryRun ? 'NOT EXISTS (SELECT 1 FROM sync_seen s WHERE s.run = ? AND s.pk = sync_rows.pk)' : '(seen_run IS NULL OR seen_run != ?)';
  }

  async unseen(model: string, runId: string, limit: number, afterPk = '', dryRun = false): Promise<UnseenRow[]> {
    const rows = this.db
      .prepare(`SELECT pk, hash, row, pending_hash, pending_row FROM sync_rows WHERE model = ? AND ${this.unseenWhere(dryRun)} AND pk > ? ORDER BY pk LIMIT ?`)
      .all(model, runId, afterPk, limit) as Array<{
      pk: string;
      hash: string | null;
      row: string | null;
      pending_hash: string | null;
      pending_row: string | null;
    }>;
    return rows.map((r) => ({
      pk: r.pk,
      hash: r.hash,
      ...(r.row !== null ? { row: r.row } : {}),
      ...(r.pending_hash !== null ? { pendingHash: r.pending_hash } : {}),
      ...(r.pending_row !== null ? { pendingRow: r.pending_row } : {}),
    }));
  }

  async countUnseen(model: string, runId: string, dryRun = false): Promise<{ unseen: number; total: number }> {
    const r = this.db
      .prepare(
        `SELECT count(*) AS total, coalesce(sum(CASE WHEN ${this.unseenWhere(dryRun)} THEN 1 ELSE 0 END), 0) AS unseen
           FROM sync_rows WHERE model = ? AND (hash IS NOT NULL OR pending_id IS NOT NULL)`,
      )
      .get(runId, model) as { total: number; unseen: number };
    return { unseen: r.unseen, total: r.total };
  }

  async endRun(runId: string): Promise<void> {
    this.db.prepare('DELETE FROM sync_seen WHERE run = ? OR at < ?').run(runId, Date.now() - KEEP_DRY_SEEN_MS);
  }

  async forget(model: string, pks: string[]): Promise<void> {
    if (!pks.length) return;
    const stmt = this.db.prepare('DELETE FROM sync_rows WHERE model = ? AND pk = ?');
    this.db.transaction(() => pks.forEach((pk) => stmt.run(model, pk))).immediate();
  }

  async queueMark(destination: string, messageIds: string[]): Promise<Map<string, number>> {
    const { max } = this.db.prepare('SELECT coalesce(max(seq), 0) AS max FROM queue').get() as { max: number };
    const out = new Map<string, number>();
    for (const part of chunks([...new Set(messageIds)])) {
      const live = this.db
        .prepare(
          `SELECT message_id, min(seq) AS seq FROM queue WHERE destination = ? AND state ` +
            `!= 'dead' AND message_id IN (${part.map(() => '?').join(',')}) GROUP BY message_id`,
        )
        .all(destination, ...part) as Array<{ message_id: string; seq: number }>;
      const queued = new Map(live.map((r) => [r.message_id, r.seq]));
      for (const id of part) out.set(id, queued.has(id) ? Math.min(max, queued.get(id)! - 1) : max);
    }
    return out;
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
    // Reads, then writes: IMMEDIATE, else a `start` process writing the same file between the two fails this with
    // "database is locked".
    return this.db
      .transaction(() => {
        const keys = this.db
          .prepare('SELECT pk FROM sync_rows WHERE model = ? AND pk > ? AND pending_id IS NOT NULL ORDER BY pk LIMIT ?')
          .pluck()
          .all(model, after, SETTLE_CHUNK) as string[];
        if (!keys.length) return undefined;
        const last = keys[keys.length - 1];
        const range = 'model = ? AND pk > ? AND pk <= ? AND pending_id IS NOT NULL';
        // This change's copy of its message: queued after pending_after (older dead copies are earlier runs').
        // Gone from the queue = delivered (acked messages are deleted); still there as 'dead' = failed.
        const copy = (state: string) =>
          `EXISTS (SELECT 1 FROM queue q WHERE q.destination = ? AND q.message_id ` +
          `= sync_rows.pending_id AND q.seq > coalesce(sync_rows.pending_after, 0) AND q.state ${state})`;
        // Live and dead copies apart: each reads its own partial index (schema version 12).
        const [live, dead] = [copy(`!= 'dead'`), copy(`= 'dead'`)];
        const gone = this.db
          .prepare(`DELETE FROM sync_rows WHERE ${range} AND pending_hash = 'deleted' AND NOT ${live} AND NOT ${dead}`)
          .run(model, after, last, destination, destination).changes;
        const synced = this.db
          .prepare(
            `UPDATE sync_rows SET hash = pending_hash, row = pending_row, pending_hash = NULL, ` +
              `pending_id = NULL, pending_after = NULL, pending_row = NULL WHERE ${range} AND NOT ${live} AND NOT ${dead}`,
          )
          .run(model, after, last, destination, destination).changes;
        const failed = this.db
          .prepare(
            `UPDATE sync_rows SET pending_hash = NULL, pending_id = NULL, pending_after = NULL, pending_row = NULL
            WHERE ${range} AND ${dead} AND NOT ${live}`,
          )
          .run(model, after, last, destination, destination).changes;
        return { delivered: gone + synced, failed, last };
      })
      .immediate();
  }

  async lock(model: string, owner: string, leaseMs: number, stealFrom?: string): Promise<string | undefined> {
    const now = Date.now();
    const taken = this.db
      .prepare(
        `INSERT INTO sync_locks (model, owner, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (model) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
          WHERE sync_locks.expires_at < ? OR sync_locks.owner = excluded.owner OR sync_locks.owner = ?`,
      )
      .run(model, owner, now + leaseMs, now, stealFrom ?? null).changes;
    if (taken) return undefined;
    const holder = this.db.prepare('SELECT owner FROM sync_locks WHERE model = ?').pluck().get(model) as string | undefined;
    return holder ?? (await this.lock(model, owner, leaseMs, stealFrom));
  }

  async renewLock(model: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.db.prepare('UPDATE sync_locks SET expires_at = ? WHERE model = ? AND owner = ?').run(Date.now() + leaseMs, model, owner).changes === 1;
  }

  async unlock(model: string, owner: string): Promise<void> {
    this.db.prepare('DELETE FROM sync_locks WHERE model = ? AND owner = ?').run(model, owner);
  }
}
