/** Bulk jobs in flight for queued messages, in the shared store: any process may resume polling them (see BulkJobs). */
import type pg from 'pg';
import type { BulkJobRow, BulkJobs } from '../types.js';

export class PostgresBulkJobs implements BulkJobs {
  constructor(private readonly pool: pg.Pool) {}

  async save(rows: BulkJobRow[]): Promise<void> {
    if (!rows.length) return;
    await this.pool.query(
      `INSERT INTO bulk_jobs (seq, op, kind, job_id, entries)
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT (seq, op) DO UPDATE SET kind = excluded.kind, job_id = excluded.job_id, entries = excluded.entries`,
      [rows.map((r) => r.seq), rows.map((r) => r.op), rows.map((r) => r.kind), rows.map((r) => r.jobId), rows.map((r) => JSON.stringify(r.entries))],
    );
  }

  async of(seqs: number[]): Promise<BulkJobRow[]> {
    if (!seqs.length) return [];
    const { rows } = await this.pool.query('SELECT seq, op, kind, job_id, entries FROM bulk_jobs WHERE seq = ANY($1::bigint[]) ORDER BY seq, op', [seqs]);
    return rows.map((r) => ({ seq: Number(r.seq), op: r.op, kind: r.kind, jobId: r.job_id, entries: JSON.parse(r.entries) }));
  }

  async forget(seqs: number[]): Promise<void> {
    if (!seqs.length) return;
    await this.pool.query('DELETE FROM bulk_jobs WHERE seq = ANY($1::bigint[])', [seqs]);
  }
}
