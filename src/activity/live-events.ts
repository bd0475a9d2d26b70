/**
 * The newest incoming messages, as the dashboard's Live events shows them, with what became of each per
 * destination. In memory, per process: this is a window onto traffic, not a record (the store is that).
 */
import type { SegmentMessage } from '../message/index.js';
import { normaliseEmail } from '../actions/identity.js';
import { Ring } from './ring.js';

export interface LiveEvent {
  id: string;
  receivedAt: number;
  source: string;
  destinations: string[];
  type: string;
  /** track's event name, page/screen's name, else null. */
  event: string | null;
  userId: string | null;
  anonymousId: string | null;
  email: string | null;
}

export type OutcomeStatus = 'queued' | 'delivering' | 'delivered' | 'retrying' | 'dead' | 'filtered' | 'unknown';
export interface Outcome {
  status: OutcomeStatus;
  /** When this process saw it get there (absent when another process did). */
  at?: number;
  error?: string;
  /** Delivered, but with a change the user should know of (an identity conflict: docs/identity.md). */
  warning?: string;
}

interface Entry {
  id: string;
  message: SegmentMessage;
  source: string;
  destinations: string[];
  receivedAt: number;
  /** Made when first asked for: ingest only files the message (the summary costs more than the rest of the entry). */
  summary?: LiveEvent;
  /** Per destination, once delivery said something; a destination absent is queued since receivedAt. */
  outcomes?: Map<string, Outcome>;
  /** Ids of the Klaviyo requests that carried it (see RequestLog), oldest first. */
  requests?: number[];
}

const summaryOf = (e: Entry): LiveEvent => (e.summary ??= summarize(e.message, e.source, e.destinations, e.receivedAt));

/** Requests remembered per message: its own, plus retries and job polls. */
const MAX_REQUESTS_PER_MESSAGE = 20;

const str = (v: unknown): string | null => (typeof v === 'string' || typeof v === 'number' ? String(v) : null);

export function summarize(message: SegmentMessage, source: string, destinations: string[], receivedAt: number): LiveEvent {
  const m = message as Record<string, any>;
  return {
    id: String(m.messageId),
    receivedAt,
    source,
    destinations,
    type: String(m.type),
    event: str(m.type === 'track' ? m.event : m.name),
    userId: str(m.userId),
    anonymousId: str(m.anonymousId),
    // As delivery will use it: normalised, or null when it would be dropped as invalid.
    email: normaliseEmail(m.traits?.email ?? m.context?.traits?.email ?? m.properties?.email, []) ?? null,
  };
}

export class LiveEvents {
  private readonly ring: Ring<Entry>;
  private readonly byId = new Map<string, Entry>();
  private readonly listeners = new Set<(batch: LiveEvent[]) => void>();
  /** New messages not yet told to listeners: they hear of them once the ingest request has been answered. */
  private pending: Entry[] = [];

  constructor(capacity = 500) {
    this.ring = new Ring(capacity);
  }

  received(source: string, destinations: string[], messages: SegmentMessage[], now = Date.now()): void {
    for (const message of messages) {
      const entry: Entry = { id: String(message.messageId), message, source, destinations, receivedAt: now };
      const evicted = this.ring.push(entry);
      if (evicted && this.byId.get(evicted.id) === evicted) this.byId.delete(evicted.id);
      this.byId.set(entry.id, entry);
      if (this.listeners.size) this.pending.push(entry);
    }
    // Publishing runs after the current I/O callbacks, i.e. after ingest has answered: the dashboard's
    // streams never slow the request that stored the messages.
    if (this.pending.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.publish());
    }
  }

  private scheduled = false;

  private publish(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    const summaries = batch.map(summaryOf);
    for (const l of this.listeners) l(summaries);
  }

  /** What delivery made of messages (only those still in the window are kept). */
  settled(destination: string, outcomes: Array<{ messageId: string } & Outcome>): void {
    for (const { messageId, ...o } of outcomes) {
      const e = this.byId.get(messageId);
      if (e) (e.outcomes ??= new Map()).set(destination, o);
    }
  }

  /** A Klaviyo request carried these messages (only those still in the window are kept). */
  carried(messageIds: Iterable<string>, requestId: number): void {
    for (const id of messageIds) {
      const e = this.byId.get(id);
      if (e && (e.requests ??= []).length < MAX_REQUESTS_PER_MESSAGE) e.requests.push(requestId);
    }
  }

  list(filter: { destination?: string; q?: string; limit?: number } = {}): LiveEvent[] {
    const q = filter.q?.toLowerCase();
    const out: LiveEvent[] = [];
    for (const e of this.ring.newest()) {
      const s = summaryOf(e);
      if (filter.destination && !s.destinations.includes(filter.destination)) continue;
      if (q && ![s.id, s.userId, s.anonymousId, s.event, s.email].some((v) => v?.toLowerCase().includes(q))) continue;
      out.push(s);
      if (out.length >= (filter.limit ?? 100)) break;
    }
    return out;
  }

  get(id: string): { summary: LiveEvent; message: SegmentMessage; outcomes: Record<string, Outcome>; requests: number[] } | undefined {
    const e = this.byId.get(id);
    if (!e) return undefined;
    const queued: Outcome = { status: 'queued', at: e.receivedAt };
    const outcomes = Object.fromEntries([...e.destinations.map((d) => [d, queued] as const), ...(e.outcomes ?? [])]);
    return { summary: summaryOf(e), message: e.message, outcomes, requests: e.requests ?? [] };
  }

  /** Forgets the messages `doomed` is true of (a deletion's purge); returns how many. */
  forget(doomed: (message: SegmentMessage) => boolean): number {
    const removed = this.ring.removeWhere((e) => doomed(e.message));
    for (const e of removed) if (this.byId.get(e.id) === e) this.byId.delete(e.id);
    this.pending = this.pending.filter((e) => this.byId.get(e.id) === e);
    return removed.length;
  }

  /** Calls back with the new messages, a batch at a time, after the request that brought them; returns the unsubscribe function. */
  subscribe(listener: (batch: LiveEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
