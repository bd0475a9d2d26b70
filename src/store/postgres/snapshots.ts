/** Warehouse sync snapshots in the shared Postgres store (see Snapshots in ../types.ts). */
import type pg from 'pg';
import type { SnapshotChange, Snapshots, UnseenRow } from '../types.js';

/** A killed dry run's scratch keys are dropped after this long. */
const KEEP_DRY_SEEN_MS = 24 * 3600_000;

export class PostgresSnapshots implements Snapshots {
  constructor(private readonly pool: pg.Pool) {}

  async get(model: string, pks: string[]): Promise<Map<string, string | null>> {
    const { rows } = await this.pool.query<{ pk: string; hash: string | null }>('SELECT pk, hash FROM sync_rows WHERE model = $1 AND pk = ANY($2::text[])', [
      model,
      pks,
    ]);
    return new Map(rows.map((r) => [r.pk, r.hash]));
  }

  async rowless(model: string, pks: string[]): Promise<Set<string>> {
    const { rows } = await this.pool.query<{ pk: string }>(
      'SELECT pk FROM sync_rows WHERE model = $1 AND pk = ANY($2::text[]) AND hash IS NOT NULL AND row IS NULL',
      [model, pks],
    );
    return new Set(rows.map((r) => r.pk));
  }

  async keepRows(model: string, rows: Array<{ pk: string; hash: string; row: string }>): Promise<void> {
    if (!rows.length) return;
    await this.pool.query(
      `UPDATE sync_rows r SET row = c.row FROM unnest($2::text[], $3::text[], $4::text[]) AS c(pk, hash, row)
        WHERE r.model = $1 AND r.pk = c.pk AND r.hash = c.hash AND r.row IS NULL`,
      [model, rows.map((r) => r.pk), rows.map((r) => r.hash), rows.map((r) => r.row)],
    );
  }

  async seen(model: string, runId: string, pks: string[], dryRun = false): Promise<void> {
    if (!pks.length) return;
    if (dryRun)
      await this.pool.query('INSERT INTO sync_seen (run, pk, at) SELECT $1, pk, kd_now_ms() FROM unnest($2::text[]) AS pk ON CONFLICT (run, pk) DO NOTHING', [
        runId,
        pks,
      ]);
    // In the source again: no longer a deleted row kept (retention).
    else await this.pool.query('UPDATE sync_rows SET seen_run = $1, deleted_at = NULL WHERE model = $2 AND pk = ANY($3::text[])', [runId, model, pks]);
  }

  async pending(model: string, runId: string, changes: SnapshotChange[]): Promise<void> {
    if (!changes.length) return;
    await this.pool.query(
      // A deletion records when the row was first found gone (retention.deletedRowDays counts from then); any other change clears it.
      `INSERT INTO sync_rows (model, pk, pending_hash, pending_id, pending_after, pending_row, seen_run, deleted_at)
       SELECT $1, c.pk, c.hash, c.id, c.after, c.row, $2, CASE WHEN c.hash = 'deleted' THEN kd_now_ms() END
         FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) AS c(pk, hash, id, after, row)
       ON CONFLICT (model, pk) DO UPDATE SET pending_hash = excluded.pending_hash, pending_id = excluded.pending_id,
         pending_after = excluded.pending_after, pending_row = excluded.pending_row, seen_run = excluded.seen_run,
         deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(sync_rows.deleted_at, excluded.deleted_at) END`,
      [
        model,
        runId,
        changes.map((c) => c.pk),
        changes.map((c) => c.hash),
        changes.map((c) => c.messageId),
        changes.map((c) => c.after ?? null),
        changes.map((c) => c.row ?? null),
      ],
    );
  }

  /** The condition on sync_rows for "not seen in run $2". */
  private unseenWhere(dryRun: boolean): string {
    return dryRun ? 'NOT EXISTS (SELECT 1 FROM sync_seen s WHERE s.run = $2 AND s.pk = sync_rows.pk)' : 'seen_run IS DISTINCT FROM $2';
  }

  async unseen(model: string, runId: string, limit: number, afterPk = '', dryRun = false): Promise<UnseenRow[]> {
    const { rows } = await this.pool.query<{ pk: string; hash: string | null; row: string | null; pending_hash: string | null; pending_row: string | null }>(
      `SELECT pk, hash, row, pending_hash, pending_row FROM sync_rows WHERE model = $1 ` +
        `AND ${this.unseenWhere(dryRun)} AND pk COLLATE "C" > $3 ORDER BY pk COLLATE "C" LIMIT $4`,
      [model, runId, afterPk, limit],
    );
    return rows.map((r) => ({
      pk: r.pk,
      hash: r.hash,
      ...(r.row !== null ? { row: r.row } : {}),
      ...(r.pending_hash !== null ? { pendingHash: r.pending_hash } : {}),
      ...(r.pending_row !== null ? { pendingRow: r.pending_row } : {}),
    }));
  }

  async countUnseen(model: string, runId: string, dryRun = false): Promise<{ unseen: number; total: number }> {
    const { rows } = await this.pool.query<{ total: number; unseen: number }>(
      `SELECT count(*)::int AS total, (count(*) FILTER (WHERE ${this.unseenWhere(dryRun)}))::int AS unseen
         FROM sync_rows WHERE model = $1 AND (hash IS NOT NULL OR pending_id IS NOT NULL)`,
      [model, runId],
    );
    return { unseen: rows[0].unseen, total: rows[0].total };
  }

  async endRun(runId: string): Promise<void> {
    await this.pool.query('DELETE FROM sync_seen WHERE run = $1 OR at < kd_now_ms() - $2', [runId, KEEP_DRY_SEEN_MS]);
  }

  async forget(model: string, pks: string[]): Promise<void> {
    if (pks.length) await this.pool.query('DELETE FROM sync_rows WHERE model = $1 AND pk = ANY($2::text[])', [model, pks]);
  }

  async queueMark(destination: string, messageIds: string[]): Promise<Map<string, number>> {
    // Sequence values are handed out in order: a message queued after this read gets a seq above `max`.
    const { rows } = await this.pool.query<{ max: string }>('SELECT coalesce(max(seq), 0)::text AS max FROM queue');
    const max = Number(rows[0].max);
    const ids = [...new Set(messageIds)];
    const live = await this.pool.query<{ message_id: string; seq: string }>(
      `SELECT message_id, min(seq)::text AS seq FROM queue WHERE destination = $1 AND message_id = ANY($2::text[]) AND state <> 'dead' GROUP BY message_id`,
      [destination, ids],
    );
    const queued = new Map(live.rows.map((r) => [r.message_id, Number(r.seq)]));
    return new Map(ids.map((id) => [id, queued.has(id) ? Math.min(max, queued.get(id)! - 1) : max]));
  }

  async settle(model: string, destination: string): Promise<{ delivered: number; failed: number; pending: number }> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // This change's copy of its message: queued after pending_after (older dead copies are earlier runs').
      // Gone from the queue = delivered (acked messages are deleted); still there as 'dead' = failed.
      const copy = (state: string) =>
        `EXISTS (SELECT 1 FROM queue q WHERE q.destination = $2 AND q.message_id = ` +
        `sync_rows.pending_id AND q.seq > coalesce(sync_rows.pending_after, 0) AND q.state ${state})`;
      // Live and dead copies apart: each reads its own partial index (schema version 13).
      const [live, dead] = [copy(`<> 'dead'`), copy(`= 'dead'`)];
      // One statement, one snapshot of the queue: a message acked mid-way cannot be seen as both queued and gone.
      const settled = await c.query<{ n: number }>(
        `WITH s AS (SELECT pk, pending_hash FROM sync_rows WHERE model = $1 AND pending_id IS NOT NULL AND NOT ${live} AND NOT ${dead}),
              d AS (DELETE FROM sync_rows r USING s WHERE r.model = $1 AND r.pk = s.pk AND s.pending_hash = 'deleted' RETURNING 1),
              u AS (UPDATE sync_rows r SET hash = r.pending_hash, row = r.pending_row,
                      pending_hash = NULL, pending_id = NULL, pending_after = NULL, pending_row = NULL
                      FROM s WHERE r.model = $1 AND r.pk = s.pk AND s.pending_hash <> 'deleted' RETURNING 1)
         SELECT ((SELECT count(*) FROM d) + (SELECT count(*) FROM u))::int AS n`,
        [model, destination],
      );
      const failed = await c.query(
        `UPDATE sync_rows SET pending_hash = NULL, pending_id = NULL, pending_after = NULL, pending_row = NULL
          WHERE model = $1 AND pending_id IS NOT NULL AND ${dead} AND NOT ${live}`,
        [model, destination],
      );
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM sync_rows WHERE model = $1 AND pending_id IS NOT NULL', [model]);
      await c.query('COMMIT');
      return { delivered: settled.rows[0].n, failed: failed.rowCount ?? 0, pending: rows[0].n };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  // The lock is a row with a lease on the database's clock (kd_now_ms), so the machines' clocks need not agree.
  async lock(model: string, owner: string, leaseMs: number, stealFrom?: string): Promise<string | undefined> {
    for (;;) {
      const taken = await this.pool.query(
        `INSERT INTO sync_locks (model, owner, expires_at) VALUES ($1, $2, kd_now_ms() + $3)
         ON CONFLICT (model) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
          WHERE sync_locks.expires_at < kd_now_ms() OR sync_locks.owner = excluded.owner OR sync_locks.owner = $4`,
        [model, owner, leaseMs, stealFrom ?? null],
      );
      if (taken.rowCount) return undefined;
      const { rows } = await this.pool.query<{ owner: string }>('SELECT owner FROM sync_locks WHERE model = $1', [model]);
      if (rows.length) return rows[0].owner;
    }
  }

  async renewLock(model: string, owner: string, leaseMs: number): Promise<boolean> {
    const r = await this.pool.query('UPDATE sync_locks SET expires_at = kd_now_ms() + $3 WHERE model = $1 AND owner = $2', [model, owner, leaseMs]);
    return r.rowCount === 1;
  }

  async unlock(model: string, owner: string): Promise<void> {
    await this.pool.query('DELETE FROM sync_locks WHERE model = $1 AND owner = $2', [model, owner]);
  }
}
