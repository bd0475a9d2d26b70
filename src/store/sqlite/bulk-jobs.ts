/** Bulk jobs in flight for queued messages, in the embedded store (see BulkJobs). */
import type Database from 'better-sqlite3';
import type { BulkJobRow, BulkJobs } from '../types.js';

export class SqliteBulkJobs implements BulkJobs {
  constructor(private readonly db: Database.Database) {}

  async save(rows: BulkJobRow[]): Promise<void> {
    if (!rows.length) return;
    const put = this.db.prepare(
      `INSERT INTO bulk_jobs (seq, op, kind, job_id, entries) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (seq, op) DO UPDATE SET kind = excluded.kind, job_id = excluded.job_id, entries = excluded.entries`,
    );
    this.db.transaction(() => {
      for (const r of rows) put.run(r.seq, r.op, r.kind, r.jobId, JSON.stringify(r.entries));
    })();
  }

  async of(seqs: number[]): Promise<BulkJobRow[]> {
    if (!seqs.length) return [];
    const rows = this.db
      .prepare('SELECT seq, op, kind, job_id, entries FROM bulk_jobs WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq, op')
      .all(JSON.stringify(seqs)) as Array<{ seq: number; op: number; kind: string; job_id: string; entries: string }>;
    return rows.map((r) => ({ seq: r.seq, op: r.op, kind: r.kind, jobId: r.job_id, entries: JSON.parse(r.entries) }));
  }

  async forget(seqs: number[]): Promise<void> {
    if (!seqs.length) return;
    this.db.prepare('DELETE FROM bulk_jobs WHERE seq IN (SELECT value FROM json_each(?))').run(JSON.stringify(seqs));
  }
}
