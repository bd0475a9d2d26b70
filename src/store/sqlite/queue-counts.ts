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
parentPort.on('message', ({ id, now }) => {
  try {
    parentPort.postMessage({ id, rows: counts.all({ now }) });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});`;

export class QueueCounts {
  private worker?: Worker;
  private lastId = 0;
  private readonly waiting = new Map<number, { resolve: (rows: QueueCountRow[]) => void; reject: (err: Error) => void }>();

  constructor(private readonly file: string) {}

  private start(): Worker {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { file: this.file, sql: QUEUE_COUNTS_SQL, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    worker.unref(); // never what keeps the process alive
    worker.on('message', (m: { id: number; rows?: QueueCountRow[]; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`counting the queue failed: ${m.error}`));
      else w?.resolve(m.rows!);
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', () => ((this.worker = undefined), this.fail(new Error('the queue-counting thread stopped'))));
    return worker;
  }

  private fail(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  count(now: number): Promise<QueueCountRow[]> {
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
