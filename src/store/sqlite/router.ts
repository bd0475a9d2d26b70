/**
 * The router of the embedded store: a worker thread with its own connection that moves inbox records (./inbox.ts)
 * into the indexed queue, in large transactions, so the B-tree work of six indexes per message is never done on
 * the thread that answers HTTP.
 *
 * One routing transaction: take the queue file's write lock, read the routed mark, insert the messages of the next
 * inbox records (oldest first; per record each destination's messages in their order) with the message-id dedupe,
 * count them, move the mark. The mark and the rows commit together, so a crash repeats nothing and loses nothing:
 * the next router starts after the mark. The inbox file is only read here; its owner deletes routed records.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Messages per routing transaction: at least ROUTE_BATCH (about), more while transactions stay short. Large, because
 * the queue's indexes by partition and by message id take inserts all over their B-trees, so a transaction dirties
 * (and the WAL writes) a page per insert until it touches most of them; the more messages share that cost, the less
 * each pays (with 300 000 queued, 48 000 per transaction cost 13 µs of CPU per message, 16 000 cost 17–19, 4000
 * about twice that). Bounded by time: delivery waits for the queue's write lock while a transaction runs.
 */
export const ROUTE_BATCH = 16_000;
export const ROUTE_BATCH_MAX = 64_000;
/** How long a routing transaction may hold the queue's write lock, about (the batch is sized from the last one's pace). */
export const ROUTE_TXN_MS = 1000;

/**
 * The next transaction's size from the last one's pace (ms for `moved` messages): as many as fit in ROUTE_TXN_MS,
 * within [ROUTE_BATCH, ROUTE_BATCH_MAX]. Only a transaction that filled most of its batch says anything: a small one
 * (routing keeps up) costs more per message and would shrink the batch for nothing. Sent to the router thread as
 * source text: self-contained.
 */
export function nextRouteBatch(current: number, moved: number, ms: number, min: number, max: number, targetMs: number): number {
  if (moved < current / 2 || ms <= 0) return current;
  return Math.max(min, Math.min(max, Math.round((moved * targetMs) / ms)));
}

/** The router connection's page cache (KiB): a transaction's dirty index pages stay in memory instead of spilling. */
const ROUTER_CACHE_KIB = 64 * 1024;

/**
 * The router thread's nice value (Linux: per thread): when the CPU is short, answering requests goes first and the
 * indexing catches up in the gaps. Bounded by the inbox's backlog limit (./inbox.ts), so it cannot starve for good.
 */
const ROUTER_NICE = 10;

const SQL = {
  // A write first: the transaction holds the queue's write lock before it reads the mark (a read first could not be
  // upgraded once another connection wrote). BEGIN IMMEDIATE would also lock the attached inbox against its writer.
  lock: 'UPDATE inbox_routed SET upto = upto',
  mark: 'SELECT upto FROM inbox_routed',
  sizes: `SELECT id, n FROM inbox.inbox WHERE id > ? ORDER BY id LIMIT ${ROUTE_BATCH_MAX}`,
  // Per record: [messageId, partitionKey, offset, bytes, receivedAt?] and the payloads blob, whose slice is the
  // payload's JSON text, copied as it is (records of earlier versions: [messageId, partitionKey, payload,
  // receivedAt?]). Sorted into accepted order (the temporary B-tree costs little beside the queue's indexes).
  move: `INSERT INTO queue (destination, message_id, partition_key, payload, received_at, available_at)
         SELECT d.value, m.value ->> 0, m.value ->> 1,
                CASE WHEN i.payloads IS NULL THEN m.value -> 2 ELSE CAST(substr(i.payloads, m.value ->> 2, m.value ->> 3) AS TEXT) END,
                coalesce(m.value ->> CASE WHEN i.payloads IS NULL THEN 3 ELSE 4 END, i.received_at), 0
           FROM inbox.inbox i, json_each(i.destinations) d, json_each(i.messages) m
          WHERE i.id > ? AND i.id <= ?
          ORDER BY i.id, d.key, m.key
         ON CONFLICT (destination, message_id) WHERE state != 'dead' DO NOTHING`,
  // The queue's last seq before the move: the rows it added are those after it (seqs only grow: AUTOINCREMENT).
  lastSeq: `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'queue'), 0)`,
  // Counted in SQL, not row by row in JS (a RETURNING row per message cost more than the row's index work).
  moved: 'SELECT destination, count(*) AS n FROM queue WHERE seq > ? GROUP BY destination',
  setMark: 'UPDATE inbox_routed SET upto = ?',
  count: `INSERT INTO throughput (destination, minute, received) VALUES (?, ?, ?)
          ON CONFLICT (destination, minute) DO UPDATE SET received = received + excluded.received`,
};

/** What the router thread tells its owner after each transaction, and once the inbox is empty. */
export type RouterNote = { upto: number; destinations: string[] } | { error: string };

// Plain CommonJS, evaluated as the worker's code: nothing to compile or resolve from the worker's side.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
try { require('node:os').setPriority(0, workerData.nice); } catch {} // this thread only; where allowed
const Database = require(workerData.driver);
const { sql, min, max, targetMs } = workerData;
const nextRouteBatch = ${nextRouteBatch.toString()};
let batch = min;
const db = new Database(workerData.queue, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -' + workerData.cacheKib);
db.prepare('ATTACH DATABASE ? AS inbox').run(workerData.inbox);
const s = Object.fromEntries(Object.entries(sql).map(([k, q]) => [k, db.prepare(q)]));
const routeOnce = db.transaction(() => {
  s.lock.run();
  const from = s.mark.pluck().get();
  let upto = from;
  let n = 0;
  for (const r of s.sizes.iterate(from)) {
    if (n && n + r.n > batch) break;
    upto = r.id;
    n += r.n;
  }
  if (upto === from) return { upto, destinations: [] };
  const before = s.lastSeq.pluck().get();
  s.move.run(from, upto);
  // Counted as received now, as enqueue counts them when it inserts them.
  const moved = s.moved.all(before);
  const minute = Math.floor(Date.now() / 60000);
  for (const r of moved) s.count.run(r.destination, minute, r.n);
  s.setMark.run(upto);
  return { upto, destinations: moved.map((r) => r.destination), moved: n };
});
let running = false;
let again = false;
let stopping = false;
function run() {
  if (stopping) return;
  if (running) return void (again = true);
  running = true;
  again = false;
  try {
    const t = performance.now();
    const r = routeOnce();
    if (r.moved) batch = nextRouteBatch(batch, r.moved, performance.now() - t, min, max, targetMs);
    parentPort.postMessage({ upto: r.upto, destinations: r.destinations });
    running = false;
    if (r.moved || again) setImmediate(run); // more may be waiting; let 'stop' in between
  } catch (err) {
    running = false;
    parentPort.postMessage({ error: String((err && err.message) || err) });
    setTimeout(run, 1000).unref();
  }
}
parentPort.on('message', (m) => {
  if (m !== 'stop') return run();
  stopping = true;
  db.close();
  parentPort.close();
});
// A nudge lost or another process's records: look now and then anyway.
setInterval(run, 1000).unref();
run();`;

/** Starts the router thread on the queue file and its inbox; `onNote` hears of every transaction. */
export function startRouter(files: { queue: string; inbox: string }, onNote: (note: RouterNote) => void): Worker {
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      ...files,
      sql: SQL,
      min: ROUTE_BATCH,
      max: ROUTE_BATCH_MAX,
      targetMs: ROUTE_TXN_MS,
      cacheKib: ROUTER_CACHE_KIB,
      nice: ROUTER_NICE,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
  });
  worker.unref(); // never what keeps the process alive: what it has not routed stays in the inbox
  worker.on('message', onNote);
  return worker;
}
