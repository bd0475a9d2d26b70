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

export interface DestinationStats {
  queued: number;
  leased: number;
  retrying: number;
  dead: number;
  delivered: number;
}

export interface StoreStats {
  byDestination: Record<string, DestinationStats>;
}

export interface SelectDeadLetters {
  seqs?: number[];
  destination?: string;
  all?: boolean;
}

export interface Store {
  migrate(): Promise<void>;
  /** Durable once resolved. A messageId already queued for the destination is ignored (client retries). */
  enqueue(destination: string, messages: NewMessage[]): Promise<void>;
  lease(destination: string, opts: { limit: number; leaseMs: number; owner: string; now?: number }): Promise<LeasedMessage[]>;
  /** Delivered: removed from the queue. */
  ack(seqs: number[]): Promise<void>;
  /** Failed this time: attempts + 1, deliverable again at retryAt. */
  retry(items: Array<{ seq: number; retryAt: number; error: string }>): Promise<void>;
  /** Back to the queue without counting an attempt (rate limits, shutdown), deliverable again at retryAt (default now). */
  release(items: Array<{ seq: number; retryAt?: number }>): Promise<void>;
  deadLetter(items: Array<{ seq: number; reason: string; detail?: unknown }>): Promise<void>;
  listDeadLetters(filter?: { destination?: string; limit?: number }): Promise<DeadLetter[]>;
  /** Dead letters back to the queue with attempts reset; returns how many. */
  replay(filter: SelectDeadLetters): Promise<number>;
  discard(filter: SelectDeadLetters): Promise<number>;
  stats(): Promise<StoreStats>;
  /**
   * Release every lease at start-up. Only for a store this process uses alone (the embedded SQLite file):
   * leases left by a crashed run are then retaken at once instead of after leaseMs.
   */
  releaseAllLeases?(): Promise<number>;
  kvGet(key: string): Promise<string | undefined>;
  kvSet(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
