/**
 * The inbox's writer: a worker thread with its own connection that appends inbox records (./inbox.ts) and commits
 * them, so the commit's fsync (synchronous=FULL) never blocks the thread that answers HTTP: that thread goes on
 * parsing and validating the next requests while the disk syncs, and each caller is answered once the writer says its
 * record is committed (the durable ack, unchanged).
 *
 * Group commit happens by itself: records that arrive while a commit is syncing are committed together in the next
 * transaction. When a group's commit fails, its records are committed one by one, so each caller gets its own
 * outcome (as ../group-commit.ts does on the main thread). Records already routed (up to the queue's mark) are
 * deleted in the same transaction as the next append, or when told to (`prune`, secure_delete for a purge).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** One record to append; `seq` names it in the answer. */
export interface InboxAppend {
  seq: number;
  n: number;
  destinations: string;
  messages: string;
  payloads: Buffer;
  now: number;
}

/** What the writer answers: records committed (with their inbox ids), records that failed, prunes done. */
export type WriterNote =
  | { done: Array<[seq: number, id: number]>; pruned: number }
  | { failed: Array<[seq: number, error: { message: string; code?: string }]> }
  | { pruneDone: number; pruned: number }
  | { pruneFailed: number; error: { message: string; code?: string } };

// Plain CommonJS, evaluated as the worker's code: nothing to compile or resolve from the worker's side.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.inbox, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const queue = new Database(workerData.queue, { readonly: true, fileMustExist: true });
queue.pragma('busy_timeout = 5000');
const mark = queue.prepare('SELECT upto FROM inbox_routed').pluck();
const append = db.prepare('INSERT INTO inbox (n, destinations, received_at, messages, payloads) VALUES (?, ?, ?, ?, ?)');
const prune = db.prepare('DELETE FROM inbox WHERE id <= ?');
let pruned = 0;
const commit = db.transaction((items) => {
  const upto = mark.get(); // the queue's own word: another process may have routed too
  if (upto > pruned) prune.run(upto);
  const ids = items.map((i) => Number(append.run(i.n, i.destinations, i.now, i.messages, i.payloads).lastInsertRowid));
  return { ids, upto };
});
const errorOf = (err) => ({ message: String((err && err.message) || err), ...(err && typeof err.code === 'string' ? { code: err.code } : {}) });
let pending = [];
let scheduled = false;
function flush() {
  scheduled = false;
  const group = pending;
  pending = [];
  try {
    const r = commit(group);
    pruned = Math.max(pruned, r.upto);
    parentPort.postMessage({ done: group.map((g, k) => [g.seq, r.ids[k]]), pruned });
  } catch (err) {
    if (group.length === 1) return parentPort.postMessage({ failed: [[group[0].seq, errorOf(err)]] });
    for (const g of group) {
      try {
        const r = commit([g]);
        pruned = Math.max(pruned, r.upto);
        parentPort.postMessage({ done: [[g.seq, r.ids[0]]], pruned });
      } catch (own) {
        parentPort.postMessage({ failed: [[g.seq, errorOf(own)]] });
      }
    }
  }
}
function pruneNow({ prune: upto, secure, id }) {
  try {
    if (secure) db.pragma('secure_delete = ON');
    try {
      prune.run(upto);
    } finally {
      if (secure) db.pragma('secure_delete = OFF');
    }
    pruned = Math.max(pruned, upto);
    parentPort.postMessage({ pruneDone: id, pruned });
  } catch (err) {
    parentPort.postMessage({ pruneFailed: id, error: errorOf(err) });
  }
}
parentPort.on('message', (m) => {
  if (m === 'stop') {
    if (pending.length) flush();
    db.close();
    queue.close();
    parentPort.close();
    return;
  }
  if (m.prune !== undefined) {
    if (pending.length) flush(); // appends first: they were sent first
    return pruneNow(m);
  }
  pending.push(m);
  // Every record that arrives in this turn (all that queued up while the last commit synced) joins one commit.
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
});`;

/** Starts the writer thread on the inbox file (the queue file for the routed mark); `onNote` hears every answer. */
export function startInboxWriter(files: { queue: string; inbox: string }, onNote: (note: WriterNote) => void): Worker {
  const worker = new Worker(WORKER, { eval: true, workerData: { ...files, driver: createRequire(import.meta.url).resolve('better-sqlite3') } });
  worker.unref(); // while nothing waits for it; the inbox refs it while appends are in flight
  worker.on('message', onNote);
  return worker;
}
