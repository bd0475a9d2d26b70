/** Warehouse sync snapshots in the shared Postgres store (see Snapshots in ../types.ts). */
import type pg from 'pg';
import type { SnapshotChange, Snapshots } from '../types.js';

export class PostgresSnapshots implements Snapshots {
  constructor(private readonly pool: pg.Pool) {}

  async get(model: string, pks: string[]): Promise<Map<string, string | null>> {
    const { rows } = await this.pool.query<{ pk: string; hash: string | null }>('SELECT pk, hash FROM sync_rows WHERE model = $1 AND pk = ANY($2::text[])', [model, pks]);
    return new Map(rows.map((r) => [r.pk, r.hash]));
  }

  async seen(model: string, runId: string, pks: string[]): Promise<void> {
    if (pks.length) await this.pool.query('UPDATE sync_rows SET seen_run = $1 WHERE model = $2 AND pk = ANY($3::text[])', [runId, model, pks]);
  }

  async pending(model: string, runId: string, changes: SnapshotChange[]): Promise<void> {
    if (!changes.length) return;
    await this.pool.query(
      `INSERT INTO sync_rows (model, pk, pending_hash, pending_id, pending_row, seen_run)
       SELECT $1, c.pk, c.hash, c.id, c.row, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS c(pk, hash, id, row)
       ON CONFLICT (model, pk) DO UPDATE SET pending_hash = excluded.pending_hash, pending_id = excluded.pending_id,
         pending_row = excluded.pending_row, seen_run = excluded.seen_run`,
      [model, runId, changes.map((c) => c.pk), changes.map((c) => c.hash), changes.map((c) => c.messageId), changes.map((c) => c.row ?? null)],
    );
  }

  async unseen(model: string, runId: string, limit: number, afterPk = ''): Promise<Array<{ pk: string; hash: string | null; row?: string }>> {
    const { rows } = await this.pool.query<{ pk: string; hash: string | null; row: string | null }>(
      `SELECT pk, hash, row FROM sync_rows WHERE model = $1 AND seen_run IS DISTINCT FROM $2 AND pk COLLATE "C" > $3 ORDER BY pk COLLATE "C" LIMIT $4`,
      [model, runId, afterPk, limit],
    );
    return rows.map((r) => ({ pk: r.pk, hash: r.hash, ...(r.row !== null ? { row: r.row } : {}) }));
  }

  async forget(model: string, pks: string[]): Promise<void> {
    if (pks.length) await this.pool.query('DELETE FROM sync_rows WHERE model = $1 AND pk = ANY($2::text[])', [model, pks]);
  }

  async settle(model: string, destination: string): Promise<{ delivered: number; failed: number; pending: number }> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // Gone from the queue = delivered (acked messages are deleted); still there as 'dead' = failed.
      const inQueue = `EXISTS (SELECT 1 FROM queue q WHERE q.destination = $2 AND q.message_id = sync_rows.pending_id)`;
      // One statement, one snapshot of the queue: a message acked mid-way cannot be seen as both queued and gone.
      const settled = await c.query<{ n: number }>(
        `WITH s AS (SELECT pk, pending_hash FROM sync_rows WHERE model = $1 AND pending_id IS NOT NULL AND NOT ${inQueue}),
              d AS (DELETE FROM sync_rows r USING s WHERE r.model = $1 AND r.pk = s.pk AND s.pending_hash = 'deleted' RETURNING 1),
              u AS (UPDATE sync_rows r SET hash = r.pending_hash, row = r.pending_row, pending_hash = NULL, pending_id = NULL, pending_row = NULL
                      FROM s WHERE r.model = $1 AND r.pk = s.pk AND s.pending_hash <> 'deleted' RETURNING 1)
         SELECT ((SELECT count(*) FROM d) + (SELECT count(*) FROM u))::int AS n`,
        [model, destination],
      );
      const failed = await c.query(
        `UPDATE sync_rows SET pending_hash = NULL, pending_id = NULL, pending_row = NULL
          WHERE model = $1 AND pending_id IS NOT NULL
            AND EXISTS (SELECT 1 FROM queue q WHERE q.destination = $2 AND q.message_id = sync_rows.pending_id AND q.state = 'dead')`,
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
}
