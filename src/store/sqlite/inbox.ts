/**
 * The ingest inbox of the embedded store: a file of its own (inbox.db beside queue.db) with one row per accepted
 * request — the request's validated messages as one JSON array and the destinations they go to — and no secondary
 * index. Appending it is ingest's durable ack (group commit, synchronous=FULL); the router thread (./router.ts)
 * moves the rows into the queue later. Its own file, so appends never wait for the router's write lock on the queue.
 *
 * Records up to the queue's routed mark (inbox_routed) are in the queue already: they are ignored everywhere and
 * deleted by the next append. Ids never go back (AUTOINCREMENT, and at open never below the mark), so a new inbox
 * file beside an old queue cannot hide records behind the mark.
 */
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { NewMessage } from '../types.js';
import { startInboxWriter, type WriterNote } from './inbox-writer.js';
import { startRouter, type RouterNote } from './router.js';

/**
 * Messages accepted and not yet routed, at most: beyond it an append waits for the router (a few seconds of routing),
 * so a router that cannot keep up slows ingest down to its own pace instead of letting the inbox grow without bound.
 */
export const MAX_UNROUTED = 200_000;

const SCHEMA = `CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  -- how many messages (for the queue counts without parsing them)
  n INTEGER NOT NULL,
  -- JSON array of destination names
  destinations TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  -- JSON array of [messageId, partitionKey, offset, bytes, receivedAt?], each message's payload cut from payloads;
  -- records of earlier versions (payloads NULL): [messageId, partitionKey, payload, receivedAt?]
  messages TEXT NOT NULL,
  -- the payloads' JSON texts back to back, UTF-8
  payloads BLOB
)`;

/**
 * A request's messages as an inbox record: a small JSON index and the payloads' texts back to back, so the router
 * cuts each payload out with substr (bytes of a blob) instead of parsing and re-serialising it in SQL.
 */
export function inboxRecord(messages: NewMessage[]): { index: string; payloads: Buffer } {
  const texts = new Array<string>(messages.length);
  let units = 0;
  for (let i = 0; i < messages.length; i++) units += (texts[i] = JSON.stringify(messages[i].payload) ?? 'null').length;
  // UTF-8 takes at most 3 bytes per UTF-16 unit; written in place, each text's byte count comes with it. Not from
  // the shared pool: the buffer is handed over to the writer thread as it is (transferred, not copied).
  const buf = Buffer.allocUnsafeSlow(units * 3);
  const index = new Array<unknown[]>(messages.length);
  let offset = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const n = buf.write(texts[i], offset);
    // substr counts from 1
    index[i] = m.receivedAt === undefined ? [m.messageId, m.partitionKey, offset + 1, n] : [m.messageId, m.partitionKey, offset + 1, n, m.receivedAt];
    offset += n;
  }
  return { index: JSON.stringify(index), payloads: buf.subarray(0, offset) };
}

export class Inbox {
  /** Reads (and the schema at open); appends and deletions are the writer thread's (./inbox-writer.ts). */
  private readonly db: Database.Database;
  private writer?: Worker;
  private writerExit?: Promise<void>;
  private writerError?: string;
  /** Appends sent to the writer and not answered yet, by seq; prunes likewise. */
  private readonly inFlight = new Map<number, { n: number; resolve: () => void; reject: (err: Error) => void }>();
  private readonly prunes = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private lastSeq = 0;
  private router?: Worker;
  private routerExit?: Promise<void>;
  /** The newest id appended, and the newest routed as the router last said. */
  private appended = 0;
  private upto = 0;
  private pruned = 0;
  private routerError?: string;
  private readonly waiting: Array<{ id: number; resolve: () => void }> = [];
  /** Records appended and not routed yet, oldest first, with their message counts; their sum. */
  private readonly unrouted: Array<{ id: number; n: number }> = [];
  private backlog = 0;
  /** Appends waiting for the backlog to shrink. */
  private blocked: Array<() => void> = [];
  private readonly listeners: Array<(destinations: string[]) => void> = [];
  private s!: ReturnType<Inbox['prepare']>;

  /**
   * @param queue the store's connection to the queue file (for the routed mark).
   * @param maxUnrouted messages accepted and not routed yet beyond which appends wait.
   */
  constructor(
    private readonly files: { queue: string; inbox: string },
    private readonly queue: Database.Database,
    private readonly maxUnrouted = MAX_UNROUTED,
  ) {
    this.db = new Database(files.inbox);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
  }

  /** After the queue's migrations. Starts routing when records were left by an earlier run. */
  open(): void {
    this.db.exec(SCHEMA);
    // An inbox file of an earlier version: its records stay readable (payloads NULL), new ones use the column.
    if (!this.db.prepare('SELECT 1 FROM pragma_table_info(?) WHERE name = ?').get('inbox', 'payloads'))
      this.db.exec('ALTER TABLE inbox ADD COLUMN payloads BLOB');
    this.s = this.prepare();
    this.upto = this.s.mark.get() as number;
    this.db.transaction(() => {
      this.db.prepare(`INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'inbox')`).run();
      this.db.prepare(`UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'inbox'`).run(this.upto);
    })();
    this.appended = (this.db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get('inbox') as number) ?? 0;
    for (const r of this.db.prepare('SELECT id, n FROM inbox WHERE id > ? ORDER BY id').iterate(this.upto) as Iterable<{ id: number; n: number }>)
      this.track(r);
    this.startWriter();
    if (this.appended > this.upto) this.startRouter();
  }

  private prepare() {
    return {
      mark: this.queue.prepare('SELECT upto FROM inbox_routed').pluck(),
      pending: this.db.prepare('SELECT id, destinations, n FROM inbox WHERE id > ?'),
      holds: this.db.prepare(
        `SELECT 1 FROM inbox i WHERE i.id > ? AND EXISTS (SELECT 1 FROM json_each(i.destinations) d WHERE d.value = ?)
            AND EXISTS (SELECT 1 FROM json_each(i.messages) m WHERE m.value ->> 0 = ?) LIMIT 1`,
      ),
    };
  }

  /** Durable once resolved. The payloads are serialised here, so a message that cannot be fails its own call. */
  async append(destinations: string[], messages: NewMessage[]): Promise<void> {
    const record = inboxRecord(messages);
    const item = { destinations: JSON.stringify(destinations), n: messages.length, messages: record.index, payloads: record.payloads, now: Date.now() };
    while (this.backlog >= this.maxUnrouted) {
      if (this.routerError) throw new Error(`accepted messages are not reaching the queue (${this.routerError}); the inbox is full`);
      await new Promise<void>((resolve) => this.blocked.push(resolve));
    }
    const writer = this.writer;
    if (!writer) throw new Error(this.writerError ? `the inbox cannot be written: ${this.writerError}` : 'the store is closed');
    const seq = ++this.lastSeq;
    return new Promise<void>((resolve, reject) => {
      this.inFlight.set(seq, { n: item.n, resolve, reject });
      writer.ref(); // an acknowledgement is awaited: the process must not end first
      writer.postMessage({ seq, ...item }, [item.payloads.buffer as ArrayBuffer]);
    });
  }

  private track(r: { id: number; n: number }): void {
    this.unrouted.push(r);
    this.backlog += r.n;
  }

  private startWriter(): void {
    const writer = startInboxWriter(this.files, (note) => this.written(note));
    this.writer = writer;
    this.writerExit = new Promise((resolve) => writer.once('exit', () => resolve()));
    // The thread itself failed (it could not open the files, say): every append waiting for it fails with the reason.
    writer.on('error', (err) => this.writerFailed(err));
    writer.once('exit', (code) => code !== 0 && this.writerFailed(new Error(`the inbox writer stopped (exit code ${code})`)));
  }

  private writerFailed(err: Error): void {
    this.writer = undefined;
    this.writerError = err.message;
    for (const w of [...this.inFlight.values(), ...this.prunes.values()]) w.reject(err);
    this.inFlight.clear();
    this.prunes.clear();
  }

  /** The writer's answers: committed records join the unrouted ones (and wake the router), failures their caller. */
  private written(note: WriterNote): void {
    const take = <T>(map: Map<number, T>, seq: number) => {
      const w = map.get(seq);
      map.delete(seq);
      return w;
    };
    const error = (e: { message: string; code?: string }) => Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
    if ('done' in note) {
      const answered = note.done.map(([seq, id]) => ({ id, w: take(this.inFlight, seq) }));
      for (const { id, w } of answered) if (w) this.track({ id, n: w.n });
      this.appended = Math.max(this.appended, ...note.done.map(([, id]) => id));
      this.pruned = Math.max(this.pruned, note.pruned);
      if (this.router) this.router.postMessage('go');
      else this.startRouter();
      for (const { w } of answered) w?.resolve();
    } else if ('failed' in note) {
      for (const [seq, e] of note.failed) take(this.inFlight, seq)?.reject(error(e));
    } else if ('pruneDone' in note) {
      this.pruned = Math.max(this.pruned, note.pruned);
      take(this.prunes, note.pruneDone)?.resolve();
    } else take(this.prunes, note.pruneFailed)?.reject(error(note.error));
    if (!this.inFlight.size && !this.prunes.size) this.writer?.unref();
  }

  /** Deletes the records up to the routed mark, on the writer thread (after the appends sent before). */
  private prune(upto: number, secure = false): Promise<void> {
    const writer = this.writer;
    if (!writer) return Promise.resolve();
    const id = ++this.lastSeq;
    return new Promise<void>((resolve, reject) => {
      this.prunes.set(id, { resolve, reject });
      writer.ref();
      writer.postMessage({ prune: upto, secure, id });
    });
  }

  /**
   * A deletion's purge: drops the records already routed now instead of at the next append, their text overwritten
   * in the file (secure_delete), so what is purged from the queue is not left behind here.
   */
  pruneRouted(): Promise<void> {
    return this.prune(this.s.mark.get() as number, true);
  }

  /** Resolves once everything appended before the call is in the queue. */
  routed(): Promise<void> {
    const id = this.appended;
    if (this.upto >= id) return Promise.resolve();
    this.router?.ref(); // someone waits for it: the process must not end before the router is done
    return new Promise((resolve) => this.waiting.push({ id, resolve }));
  }

  onRouted(listener: (destinations: string[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Records not routed yet (id, destinations, message count), read before the queue is counted: the caller keeps
   * those past the routed mark it read with the queue counts, so a record the router moves in between is counted
   * once, in the queue (see SqliteStore.stats).
   */
  pendingRecords(): Array<{ id: number; destinations: string[]; n: number }> {
    const rows = this.s.pending.all(this.s.mark.get()) as Array<{ id: number; destinations: string; n: number }>;
    return rows.map((r) => ({ id: r.id, destinations: JSON.parse(r.destinations) as string[], n: r.n }));
  }

  /** Whether a message waits in the inbox for the destination (a scan: the inbox is small while routing keeps up). */
  holds(destination: string, messageId: string): boolean {
    return this.s.holds.get(this.s.mark.get(), destination, messageId) !== undefined;
  }

  /** Why routing last failed, while it keeps failing (it is retried every second). */
  get error(): string | undefined {
    return this.routerError;
  }

  private startRouter(): void {
    const worker = startRouter(this.files, (note) => this.heard(note));
    this.router = worker;
    this.routerExit = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('error', (err) => (this.routerError = String(err)));
    worker.once('exit', () => this.router === worker && (this.router = undefined));
  }

  private heard(note: RouterNote): void {
    if (!this.db.open) return; // a note that arrived after close()
    if ('error' in note) {
      this.routerError = note.error;
      this.unblock(); // appends waiting for room fail now, with the reason
      return;
    }
    this.routerError = undefined;
    this.upto = Math.max(this.upto, note.upto);
    let routed = 0;
    while (this.unrouted.length && this.unrouted[0].id <= this.upto) routed += this.unrouted.shift()!.n;
    this.backlog -= routed;
    if (routed) this.unblock();
    if (note.destinations.length) for (const l of this.listeners) l(note.destinations);
    // Nothing left to route (ingest is idle, or this run's records went elsewhere): drop the routed records now
    // rather than at the next append, so the inbox keeps no copy of delivered (or purged) messages.
    else if (this.upto > this.pruned && !this.unrouted.length) {
      this.pruned = this.upto;
      this.prune(this.upto).catch(() => {}); // the next append deletes them anyway
    }
    for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i].id <= this.upto) this.waiting.splice(i, 1)[0].resolve();
    if (!this.waiting.length) this.router?.unref();
  }

  private unblock(): void {
    const blocked = this.blocked;
    this.blocked = [];
    blocked.forEach((go) => go());
  }

  /** Appends in progress are committed; routing stops where it is (the rest stays in the inbox for the next run). */
  async close(): Promise<void> {
    // Appends in flight are answered first (the writer commits what it was sent before it stops).
    await Promise.allSettled(
      [...this.inFlight.values(), ...this.prunes.values()].map(
        (w) =>
          new Promise<void>((r) => {
            const { resolve, reject } = w;
            w.resolve = () => (resolve(), r());
            w.reject = (err) => (reject(err), r());
          }),
      ),
    );
    const writer = this.writer;
    this.writer = undefined;
    if (writer) {
      writer.ref();
      writer.postMessage('stop');
      await this.writerExit;
    }
    const router = this.router;
    this.router = undefined;
    if (router) {
      router.ref(); // until it has stopped
      router.postMessage('stop');
      const stopped = await Promise.race([this.routerExit!.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
      if (!stopped) await router.terminate();
    }
    this.db.close();
  }
}
