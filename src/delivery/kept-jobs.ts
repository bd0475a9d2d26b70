/**
 * The bulk jobs of one delivery cycle's messages, kept in the store from Klaviyo's 202 until the messages settle, so
 * a restarted or another worker polls a job to its end instead of creating it again (docs/delivery.md).
 */
import type { PlannedOperation } from '../klaviyo/operations.js';
import { kindOf } from '../operation-kinds/index.js';
import type { BulkJobRow, Store } from '../store/types.js';
import type { JobOfOperations } from './executor.js';

export class KeptJobs {
  /** Operations whose job an earlier cycle created: polled, not sent. */
  readonly resumedItems = new Set<PlannedOperation>();
  /** Messages with a row in the store. */
  private readonly seqs = new Set<number>();
  private readonly saving: Promise<void>[] = [];
  private readonly where = new Map<PlannedOperation, { seq: number; op: number }>();

  constructor(
    private readonly store: Store,
    private readonly opsOf: Map<number, PlannedOperation[]>,
    private readonly onSaveError: (err: unknown) => void,
  ) {
    for (const [seq, ops] of opsOf) ops.forEach((item, op) => this.where.set(item, { seq, op }));
  }

  /** The jobs kept for these messages whose operations are still planned as they were (same index, same kind). */
  async resumable(): Promise<JobOfOperations[]> {
    // Only kinds sent as bulk jobs can have one: a cycle of events alone reads nothing.
    const seqs = [...this.opsOf].flatMap(([seq, ops]) => (ops.some((item) => kindOf(item.op).resume) ? [seq] : []));
    const rows = seqs.length ? await this.store.bulkJobs.of(seqs) : [];
    const jobs = new Map<string, JobOfOperations>();
    for (const row of rows) {
      this.seqs.add(row.seq);
      const item = this.opsOf.get(row.seq)?.[row.op];
      if (!item || item.op.kind !== row.kind || !kindOf(item.op).resume) continue;
      const job = jobs.get(row.jobId) ?? { id: row.jobId, carried: [] };
      job.carried.push({ item, entries: row.entries });
      jobs.set(row.jobId, job);
      this.resumedItems.add(item);
    }
    return [...jobs.values()];
  }

  /** Klaviyo accepted a job: keep it (a failure to keep it costs a second job after a restart, nothing more). */
  created(job: JobOfOperations): void {
    const rows: BulkJobRow[] = job.carried.flatMap(({ item, entries }) => {
      const w = this.where.get(item);
      return w ? [{ seq: w.seq, op: w.op, kind: item.op.kind, jobId: job.id, entries }] : [];
    });
    for (const r of rows) this.seqs.add(r.seq);
    this.saving.push(this.store.bulkJobs.save(rows).catch(this.onSaveError));
  }

  /** Drop the rows of these settled messages, once every row of this cycle is written. */
  async forget(seqs: number[]): Promise<void> {
    await Promise.all(this.saving);
    const mine = seqs.filter((seq) => this.seqs.has(seq));
    if (mine.length) await this.store.bulkJobs.forget(mine);
  }
}
