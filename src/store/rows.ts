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
