import type { MessageState } from './types.js';

/** A queue row's columns as a MessageState. */
export function messageStateOf(r: { state: string; attempts: number; last_error: string | null; dead_reason: string | null }): MessageState {
  if (r.state === 'dead') return { state: 'dead', attempts: Number(r.attempts), ...(r.dead_reason ? { error: r.dead_reason } : {}) };
  if (r.state === 'leased') return { state: 'leased', attempts: Number(r.attempts) };
  if (Number(r.attempts) > 0) return { state: 'retrying', attempts: Number(r.attempts), ...(r.last_error ? { error: r.last_error } : {}) };
  return { state: 'queued', attempts: 0 };
}
