/**
 * The durable queue: ingested messages per destination awaiting delivery, dead letters, and a small
 * key-value table. SQLite is the embedded default; a Postgres implementation fits the same port.
 *
 * Ordering rule: `lease` never returns a message while an earlier message with the same
 * (destination, partitionKey) is still unsettled (leased, or waiting to be retried). Dead letters do not block.
 */
export interface NewMessage {
  messageId: string;
  /** The profile the message belongs to (userId ?? anonymousId): messages of one partition are delivered in order. */
  partitionKey: string;
  payload: unknown;
  receivedAt?: number;
}

export interface LeasedMessage {
  seq: number;
  destination: string;
  messageId: string;
  partitionKey: string;
  payload: unknown;
  attempts: number;
  receivedAt: number;
  lastError?: string;
}

export interface DeadLetter {
  seq: number;
  destination: string;
  messageId: string;
  payload: unknown;
  reason: string;
  detail?: unknown;
  attempts: number;
  receivedAt: number;
  deadAt: number;
}

/** Where a message stands in the queue; absent from the queue means delivered, matched nothing, or discarded. */
export interface MessageState {
  state: 'queued' | 'leased' | 'retrying' | 'dead';
  attempts: number;
  /** The last error (retrying) or the dead-letter reason. */
  error?: string;
}

export interface DestinationStats {
  queued: number;
  leased: number;
  retrying: number;
  dead: number;
  delivered: number;
  /** Settled without a request: the message matched no action (a page, group or alias no subscription takes). */
  filtered: number;
}

export interface StoreStats {
  byDestination: Record<string, DestinationStats>;
}

/** Messages received, delivered, retried and dead-lettered in one minute (minute = epoch ms / 60 000, floored). */
export interface MinuteCounts {
  destination: string;
  minute: number;
  received: number;
  delivered: number;
  /** Settled without a request: matched no action. */
  filtered: number;
  /** Failed attempts scheduled again (rate-limit hold-backs are not counted: they use no attempt). */
  retried: number;
  dead: number;
}

/** Which dead letters: listed seqs, or all — narrowed by destination and by part of the reason (any case). */
export interface SelectDeadLetters {
  seqs?: number[];
  destination?: string;
  reason?: string;
  all?: boolean;
}

export interface ListDeadLetters {
  destination?: string;
  reason?: string;
  limit?: number;
}

/**
 * A sliding log of request times per key, kept where several processes see it (e.g. one Klaviyo account's
 * endpoint shared by many workers). Times come from the ledger's own clock, so machines' clocks need not agree.
 */
export interface RateLedger {
  /** 0 when a request may go now (and it is counted), else milliseconds to wait. */
  take(key: string, limits: { burst: number; burstMs: number; steady: number; steadyMs: number; spacingMs: number }): Promise<number>;
  /** Nobody takes from this key for the next `ms` (after a 429). */
  pause(key: string, ms: number): Promise<void>;
}

/** A change in flight for one warehouse row: `hash` of the new row, or 'deleted'. */
export interface SnapshotChange {
  pk: string;
  hash: string;
  /** The queued message carrying it: the row counts as synced once this message is delivered. */
  messageId: string;
  /**
   * The queue seq after which this change's own copy of the message lies (from `queueMark`, taken before it was
   * queued): an older dead copy of the same id is an earlier run's failure, not this change's.
   */
  after?: number;
  /** The row as JSON, kept for models that act on deleted rows. */
  row?: string;
}

/** A key of the snapshot that a run did not see in the source. */
export interface UnseenRow {
  pk: string;
  /** Last delivered hash; null: never delivered. */
  hash: string | null;
  /** The last delivered row (models that act on deleted rows). */
  row?: string;
  /** A change still in flight: its hash ('deleted' for a deletion) and row. */
  pendingHash?: string;
  pendingRow?: string;
}

/**
 * What a warehouse model last delivered, per primary key: hashes (and the row only where deletions need it).
 * A change is recorded as pending with its message id and becomes the snapshot only once that message is
 * delivered, so an interrupted or failed run never marks an undelivered row as synced.
 *
 * Runs: a real run holds the model's lock (`lock` … `unlock`) for its whole length and marks the keys it sees in
 * sync_rows; a dry run takes no lock and writes nothing to sync_rows: it marks keys in a scratch table under its
 * run id (`dryRun` = true), dropped by `endRun`.
 */
export interface Snapshots {
  /** Last delivered hash per primary key (null: known but never delivered); absent keys are new. */
  get(model: string, pks: string[]): Promise<Map<string, string | null>>;
  /** Of these keys, those delivered whose row the snapshot does not keep (kept only for models acting on deletions). */
  rowless(model: string, pks: string[]): Promise<Set<string>>;
  /** Keep the rows of delivered, unchanged keys (where none is kept yet and the hash still matches). */
  keepRows(model: string, rows: Array<{ pk: string; hash: string; row: string }>): Promise<void>;
  /** These keys are still in the source (run `runId`). */
  seen(model: string, runId: string, pks: string[], dryRun?: boolean): Promise<void>;
  /** Record changes whose messages were queued (and mark their keys seen). */
  pending(model: string, runId: string, changes: SnapshotChange[]): Promise<void>;
  /**
   * Keys not seen in run `runId`, in key order after `afterPk`: the rows deleted from the source. Keys never
   * delivered and with nothing in flight are included (hash null, no pendingHash): only to be forgotten.
   */
  unseen(model: string, runId: string, limit: number, afterPk?: string, dryRun?: boolean): Promise<UnseenRow[]>;
  /** Of the keys delivered or in flight: how many run `runId` did not see, and how many there are. */
  countUnseen(model: string, runId: string, dryRun?: boolean): Promise<{ unseen: number; total: number }>;
  /** A dry run is over: drop the keys it marked (and any left by dry runs killed more than a day ago). */
  endRun(runId: string): Promise<void>;
  /** Drop keys that are gone from the source and need no deletion sent. */
  forget(model: string, pks: string[]): Promise<void>;
  /**
   * Before queueing these message ids: per id, the queue seq after which the copy that delivers it will lie (the
   * newest seq now, or just before a copy already queued and not dead).
   */
  queueMark(destination: string, messageIds: string[]): Promise<Map<string, number>>;
  /**
   * Fold settled messages into the snapshot: delivered → synced; dead-lettered → pending dropped (the next run
   * sends the change again). Returns counts of this call's delivered and failed, and what is still pending.
   */
  settle(model: string, destination: string): Promise<{ delivered: number; failed: number; pending: number }>;
  /**
   * Take the model's run lock for `leaseMs`: undefined when taken (it was free, lapsed, already this owner's, or
   * held by `stealFrom`), else the owner holding it.
   */
  lock(model: string, owner: string, leaseMs: number, stealFrom?: string): Promise<string | undefined>;
  /** Extend the lease; false when this owner no longer holds the lock. */
  renewLock(model: string, owner: string, leaseMs: number): Promise<boolean>;
  unlock(model: string, owner: string): Promise<void>;
}

/** What privacy needs of a store: deletion purges, suppressions (salted hashes only) and retention (docs/privacy.md). */
export interface PrivacyStore {
  /** The salt of suppression hashes: made once per store, shared by every process on it. */
  salt(): Promise<string>;
  /** Every suppressed identifier's salted hash. */
  suppressed(): Promise<string[]>;
  suppress(hashes: string[]): Promise<void>;
  /** Lifts these suppressions; returns how many there were. */
  unsuppress(hashes: string[]): Promise<number>;
  /** Deletes every message in the queue (waiting, leased or dead) whose payload `names` is true of. */
  purgeMessages(names: (payload: unknown) => boolean): Promise<{ queued: number; dead: number }>;
  /** Deletes sync snapshot rows (every model) whose key or kept row `names` is true of. */
  purgeSyncRows(names: (value: unknown) => boolean): Promise<number>;
  /** Retention: deletes what expired before these times (epoch ms). */
  purgeExpired(limits: ExpiryLimits): Promise<ExpiredCounts>;
  /** When the oldest dead letter died, the oldest throughput minute began, the oldest kept deleted row was found gone (epoch ms), for `status`. */
  oldest(): Promise<OldestKept>;
}

export interface ExpiryLimits {
  /** Dead letters that died before this. */
  deadBefore: number;
  /** Throughput minutes that began before this. */
  throughputBefore: number;
  /** Sync snapshot rows found gone from their source before this (kept for models acting on deletions); absent: none. */
  deletedRowsBefore?: number;
}

export interface ExpiredCounts {
  deadLetters: number;
  throughputMinutes: number;
  deletedRows: number;
}

export interface OldestKept {
  deadLetter?: number;
  throughput?: number;
  deletedRow?: number;
}

export interface ReplayResult {
  /** Dead letters put back in the queue. */
  replayed: number;
  /** Dead letters deleted instead: their messageId was queued already, or a newer dead letter of it was replayed. */
  dropped: number;
}

/** One applied configuration (its sources and destinations: the part every process sharing the store runs). */
export interface ConfigVersion {
  version: number;
  /** When it was applied (ms). */
  at: number;
  /** Who applied it: "file" (start, SIGHUP), "admin" (the admin API and dashboard), … */
  author: string;
  /** The configuration document as JSON. */
  config: string;
  /** The changes from the version before, as JSON (config/diff.ts). */
  diff: string;
}

/** Every configuration applied, numbered 1, 2, 3 … with no gaps; several processes may append. */
export interface ConfigVersions {
  /**
   * Store `entry` as version `after + 1`. Resolves to that number, or undefined when another version was stored
   * after `after` meanwhile (the caller re-reads and decides again).
   */
  append(after: number, entry: Omit<ConfigVersion, 'version'>): Promise<number | undefined>;
  /** The newest version's number (0: none yet): cheap, polled by every process. */
  latestVersion(): Promise<number>;
  get(version: number): Promise<ConfigVersion | undefined>;
  /** Newest first, without the documents. */
  list(limit: number): Promise<Array<Omit<ConfigVersion, 'config'>>>;
}

/**
 * One operation of a queued message that Klaviyo's bulk job `jobId` carries, at these entry indexes of the job's
 * request. Kept from Klaviyo's 202 until the message settles, so a restarted or other worker polls the job instead
 * of creating it again (docs/delivery.md, "Bulk jobs that outlive a process").
 */
export interface BulkJobRow {
  seq: number;
  /** The operation's index in the message's plan. */
  op: number;
  /** The operation's kind (a re-planned message whose operation is of another kind sends it anew). */
  kind: string;
  jobId: string;
  entries: number[];
}

export interface BulkJobs {
  /** Keep these rows; a row for the same message and operation is replaced (a re-import is a new job). */
  save(rows: BulkJobRow[]): Promise<void>;
  /** The rows of these messages. */
  of(seqs: number[]): Promise<BulkJobRow[]>;
  /** Drop the rows of these messages (settled: delivered, filtered or dead-lettered). */
  forget(seqs: number[]): Promise<void>;
}

export interface Store {
  migrate(): Promise<void>;
  /** Durable once resolved. A messageId already queued for the destination is ignored (client retries). */
  enqueue(destination: string, messages: NewMessage[]): Promise<void>;
  /**
   * Ingest's durable ack: the messages, for each of the destinations, appended to the inbox as one record (no
   * index to update) and durable once resolved. The store's router moves them into the queue later, off the
   * caller's thread, in the order they were accepted, with the same message-id dedupe as `enqueue`; until then
   * `messageState` and `stats` count them as queued (docs/ingest.md).
   */
  accept(destinations: string[], messages: NewMessage[]): Promise<void>;
  /** Resolves once everything accepted before the call is in the queue (leaseable). */
  routed(): Promise<void>;
  /** `listener` is told which destinations received messages each time the router moves some into the queue. */
  onRouted(listener: (destinations: string[]) => void): void;
  lease(destination: string, opts: { limit: number; leaseMs: number; owner: string; now?: number }): Promise<LeasedMessage[]>;
  /**
   * Extend the leases this owner still holds on these messages to `leaseMs` from now (a cycle whose requests or bulk
   * jobs take longer than the lease). Returns how many it still held: fewer means another owner may have them.
   */
  renewLeases(seqs: number[], owner: string, leaseMs: number): Promise<number>;
  /** Settled: removed from the queue, counted as delivered, or as `filtered` (it matched no action, nothing was sent). */
  ack(seqs: number[], filtered?: number[]): Promise<void>;
  /** Failed this time: attempts + 1, deliverable again at retryAt. */
  retry(items: Array<{ seq: number; retryAt: number; error: string }>): Promise<void>;
  /** Back to the queue without counting an attempt (rate limits, shutdown), deliverable again at retryAt (default now). */
  release(items: Array<{ seq: number; retryAt?: number }>): Promise<void>;
  deadLetter(items: Array<{ seq: number; reason: string; detail?: unknown }>): Promise<void>;
  /** The message's newest row for the destination, or undefined when the queue no longer holds it. */
  messageState(destination: string, messageId: string): Promise<MessageState | undefined>;
  /** Newest first. */
  listDeadLetters(filter?: ListDeadLetters): Promise<DeadLetter[]>;
  /**
   * Dead letters back to the queue with attempts reset. One copy per messageId goes back (the newest dead letter);
   * the others, and any whose messageId is queued again meanwhile, are deleted and counted as dropped.
   */
  replay(filter: SelectDeadLetters): Promise<ReplayResult>;
  discard(filter: SelectDeadLetters): Promise<number>;
  stats(): Promise<StoreStats>;
  /** Per-minute counts since a time (kept for two days): delivery rates and charts. */
  throughput(filter: { sinceMs: number; destination?: string }): Promise<MinuteCounts[]>;
  /**
   * Release every lease at start-up. Only for a store this process uses alone (the embedded SQLite file):
   * leases left by a crashed run are then retaken at once instead of after leaseMs.
   */
  releaseAllLeases?(): Promise<number>;
  /** Warehouse sync state (RETL models and audiences). */
  snapshots: Snapshots;
  privacy: PrivacyStore;
  /** The configurations applied, in order (live reload, rollback, export). */
  configVersions: ConfigVersions;
  /** Bulk jobs Klaviyo is processing for queued messages. */
  bulkJobs: BulkJobs;
  /** Every message of a destination, queued or dead (a destination removed from the configuration); returns how many. */
  discardQueue(destination: string): Promise<number>;
  /** When the oldest message still waiting for delivery (queued, leased or retrying) was received; undefined: none. */
  oldestWaiting(destination: string): Promise<number | undefined>;
  /** Present on stores several processes share: their rate limits are counted here, not per process. */
  rateLedger?: RateLedger;
  kvGet(key: string): Promise<string | undefined>;
  kvSet(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
