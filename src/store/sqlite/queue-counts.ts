/**
 * Queue counts per destination and state, read on a worker thread with its own read-only connection: counting a
 * backlog of a million rows takes a few hundred milliseconds, which on the main thread would stall ingest and
 * delivery every time /metrics, `status` or the dashboard asks.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface QueueCountRow {
  destination: string;
  queued: number;
  leased: number;
  retrying: number;
  dead: number;
}

/** @now: due retries count as queued, later ones as retrying. */
export const QUEUE_COUNTS_SQL = `
  SELECT destination,
         SUM(state = 'ready' AND (attempts = 0 OR available_at <= @now)) AS queued,
         SUM(state = 'leased') AS leased,
         SUM(state = 'ready' AND attempts > 0 AND available_at > @now) AS retrying,
         SUM(state = 'dead') AS dead
    FROM queue GROUP BY destination`;

// Plain CommonJS, evaluated as the worker's code: nothing to compile or resolve from the worker's side.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const counts = db.prepare(workerData.sql);
const routed = db.prepare('SELECT upto FROM inbox_routed').pluck();
// One read transaction: the counts and the inbox mark they stand for come from the same snapshot.
const read = db.transaction((now) => ({ rows: counts.all({ now }), routed: routed.get() ?? 0 }));
parentPort.on('message', ({ id, now }) => {
  try {
    parentPort.postMessage({ id, ...read(now) });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});`;

/** The queue's counts, and the inbox's routed mark in the same snapshot: inbox records past it are not in the rows. */
export interface QueueCounted {
  rows: QueueCountRow[];
  routed: number;
}

export class QueueCounts {
  private worker?: Worker;
  private lastId = 0;
  private readonly waiting = new Map<number, { resolve: (counted: QueueCounted) => void; reject: (err: Error) => void }>();

  constructor(private readonly file: string) {}

  private start(): Worker {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { file: this.file, sql: QUEUE_COUNTS_SQL, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    worker.unref(); // never what keeps the process alive
    worker.on('message', (m: { id: number; rows?: QueueCountRow[]; routed?: number; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`counting the queue failed: ${m.error}`));
      else w?.resolve({ rows: m.rows!, routed: m.routed! });
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', () => ((this.worker = undefined), this.fail(new Error('the queue-counting thread stopped'))));
    return worker;
  }

  private fail(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  count(now: number): Promise<QueueCounted> {
    this.worker ??= this.start();
    const id = ++this.lastId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage({ id, now });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}
