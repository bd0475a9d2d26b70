/** Queue rows → the Store's shapes, for both stores (the Postgres pool parses BIGINT columns as numbers). */
import type { DeadLetter, LeasedMessage, MessageState } from './types.js';

export function leasedOf(r: {
  seq: number;
  destination: string;
  message_id: string;
  partition_key: string;
  payload: string;
  attempts: number;
  received_at: number;
  last_error: string | null;
}): LeasedMessage {
  return {
    seq: r.seq,
    destination: r.destination,
    messageId: r.message_id,
    partitionKey: r.partition_key,
    payload: JSON.parse(r.payload),
    attempts: r.attempts,
    receivedAt: r.received_at,
    ...(r.last_error ? { lastError: r.last_error } : {}),
  };
}

export function deadLetterOf(r: {
  seq: number;
  destination: string;
  message_id: string;
  payload: string;
  dead_reason: string;
  dead_detail: string | null;
  attempts: number;
  received_at: number;
  dead_at: number;
}): DeadLetter {
  return {
    seq: r.seq,
    destination: r.destination,
    messageId: r.message_id,
    payload: JSON.parse(r.payload),
    reason: r.dead_reason,
    ...(r.dead_detail ? { detail: JSON.parse(r.dead_detail) } : {}),
    attempts: r.attempts,
    receivedAt: r.received_at,
    deadAt: r.dead_at,
  };
}

export function messageStateOf(r: { state: string; attempts: number; last_error: string | null; dead_reason: string | null }): MessageState {
  const { attempts } = r;
  if (r.state === 'dead') return { state: 'dead', attempts, ...(r.dead_reason ? { error: r.dead_reason } : {}) };
  if (r.state === 'leased') return { state: 'leased', attempts };
  if (attempts > 0) return { state: 'retrying', attempts, ...(r.last_error ? { error: r.last_error } : {}) };
  return { state: 'queued', attempts: 0 };
}

/** A dead letter selected for replay, by its identity in the queue. */
export interface DeadCopy {
  seq: number;
  destination: string;
  message_id: string;
}

/**
 * The dead letters a replay deletes instead of queueing: those whose message is queued again already, and all but
 * the newest copy of a messageId dead-lettered more than once (a client's re-send that failed too). The queue holds
 * one live row per messageId and destination.
 */
export function extraCopies(selected: DeadCopy[], queuedAlready: (d: DeadCopy) => boolean): number[] {
  const kept = new Set<string>();
  const extra: number[] = [];
  for (const d of [...selected].sort((a, b) => Number(b.seq) - Number(a.seq))) {
    const key = `${d.destination}\n${d.message_id}`;
    if (kept.has(key) || queuedAlready(d)) extra.push(Number(d.seq));
    else kept.add(key);
  }
  return extra;
}
