/**
 * Klaviyo requests as the dashboard's Deliveries and Overview show them: the newest requests with what they
 * carried, per-minute counts for a day, and the requests of the last minute per endpoint (rate-limit headroom).
 * In memory, per process.
 */
import type { SentRequest } from '../klaviyo/request.js';
import type { EndpointName } from '../klaviyo/endpoints.js';
import { DuplicateProfileError, KlaviyoError, RetryableError } from '../klaviyo/errors.js';
import { Ring } from './ring.js';

export interface RequestRecord {
  id: number;
  at: number;
  destination: string;
  endpoint: EndpointName;
  method: string;
  path: string;
  /** null when no answer came (network error, timeout). */
  httpStatus: number | null;
  status: 'ok' | 'retry' | 'failed';
  durationMs: number;
  items: number;
  actions: string[];
  messageIds: string[];
  profiles: string[];
  error?: { message: string; errors: unknown[] };
}

export interface KlaviyoMinute {
  t: number;
  /** HTTP answers, the client's own retries included. */
  requests: number;
  rateLimited: number;
  /** Requests that ended without success (after the client's retries). */
  failed: number;
  /** Operations carried by the requests that ended in this minute. */
  items: number;
}

interface Bucket {
  requests: number;
  rateLimited: number;
  failed: number;
  sends: number;
  items: number;
  maxItems: number;
}

const MINUTE = 60_000;
const KEEP_MS = 24 * 3600_000;
const MAX_LISTED_IDS = 100;
const MAX_LISTED_PROFILES = 20;
/** Identifiers kept per request for the profile filter (a bulk profile import carries up to 10 000)... */
const MAX_SEARCHED_PROFILES = 1000;
/** ...and at most this many characters of them, so 1000 requests hold at most 16 MB whatever their identifiers. */
const MAX_SEARCHED_CHARS = 8 * 1024;
/** A listed id or identifier longer than this is cut: a 30 KB user id is somebody's attack, not a name to read. */
const MAX_KEPT_CHARS = 128;

/**
 * At most `max` characters of a string, in a string of its own: V8 keeps a slice of a long string as a view that
 * holds the whole of it, so a cut that only slices would keep the attacker's 30 KB alive.
 */
export function ownCopy(text: string, max = MAX_KEPT_CHARS): string {
  return text.length <= max ? text : Buffer.from(`${text.slice(0, max - 1)}…`, 'utf8').toString('utf8');
}
const IDENTIFIERS = ['email', 'phone_number', 'external_id', 'id', 'anonymous_id'] as const;

/** ok / retry / failed, and the HTTP status, from how a request ended. */
function outcome(sent: SentRequest): Pick<RequestRecord, 'httpStatus' | 'status' | 'error'> {
  if (sent.error === undefined) return { httpStatus: sent.status ?? null, status: 'ok' };
  const e = sent.error;
  // 409 means "this profile exists": the executor updates that profile instead, so it is not a failure.
  if (e instanceof DuplicateProfileError) return { httpStatus: 409, status: 'ok' };
  if (e instanceof KlaviyoError) {
    return { httpStatus: e.status ?? null, status: e instanceof RetryableError ? 'retry' : 'failed', error: { message: e.detail, errors: e.errors } };
  }
  return { httpStatus: null, status: 'retry', error: { message: (e as Error)?.message ?? String(e), errors: [] } };
}

export class RequestLog {
  private readonly ring: Ring<RequestRecord>;
  private lastId = 0;
  private readonly byId = new Map<number, RequestRecord>();
  /** Per request, the identifiers it carried (lower case), beyond the few listed on the record. */
  private readonly identifiers = new Map<number, string[]>();
  private readonly minutes = new Map<string, Map<number, Bucket>>();
  private readonly recent = new Map<string, Map<EndpointName, number[]>>();

  constructor(capacity = 1000) {
    this.ring = new Ring(capacity);
  }

  private bucket(destination: string, at: number): Bucket {
    let byMinute = this.minutes.get(destination);
    if (!byMinute) this.minutes.set(destination, (byMinute = new Map()));
    const minute = Math.floor(at / MINUTE);
    let b = byMinute.get(minute);
    if (!b) {
      byMinute.set(minute, (b = { requests: 0, rateLimited: 0, failed: 0, sends: 0, items: 0, maxItems: 0 }));
      for (const m of byMinute.keys()) if (m < minute - KEEP_MS / MINUTE) byMinute.delete(m);
    }
    return b;
  }

  /** One HTTP answer from Klaviyo (every attempt, as the client reports it). */
  answered(destination: string, endpoint: EndpointName, httpStatus: number, now = Date.now()): void {
    const b = this.bucket(destination, now);
    b.requests++;
    if (httpStatus === 429) b.rateLimited++;
    let byEndpoint = this.recent.get(destination);
    if (!byEndpoint) this.recent.set(destination, (byEndpoint = new Map()));
    const times = byEndpoint.get(endpoint) ?? [];
    times.push(now);
    while (times.length && times[0] <= now - MINUTE) times.shift();
    byEndpoint.set(endpoint, times);
  }

  /** One request as delivery saw it end, with the operations it carried. */
  sent(destination: string, sent: SentRequest, now = Date.now()): RequestRecord {
    const profiles = new Set<string>();
    let chars = 0;
    for (const { op } of sent.items) {
      const p = op.profile as Record<string, unknown>;
      for (const k of IDENTIFIERS) {
        if (typeof p?.[k] !== 'string' || profiles.size >= MAX_SEARCHED_PROFILES) continue;
        const id = ownCopy(p[k] as string);
        if ((chars += id.length) > MAX_SEARCHED_CHARS) break;
        profiles.add(id);
      }
    }
    const record: RequestRecord = {
      id: ++this.lastId,
      at: now,
      destination,
      endpoint: sent.request.endpoint,
      method: sent.request.method,
      path: sent.request.path,
      durationMs: sent.durationMs,
      items: sent.items.length,
      actions: [...new Set(sent.items.map((i) => i.action))],
      messageIds: [...new Set(sent.items.map((i) => i.messageId))].slice(0, MAX_LISTED_IDS).map((id) => ownCopy(id)),
      profiles: [...profiles].slice(0, MAX_LISTED_PROFILES),
      ...outcome(sent),
    };
    const evicted = this.ring.push(record);
    if (evicted) this.byId.delete(evicted.id), this.identifiers.delete(evicted.id);
    this.byId.set(record.id, record);
    this.identifiers.set(
      record.id,
      [...profiles].map((p) => p.toLowerCase()),
    );
    const b = this.bucket(destination, now);
    b.sends++;
    b.items += record.items;
    b.maxItems = Math.max(b.maxItems, record.items);
    if (record.status !== 'ok') b.failed++;
    return record;
  }

  /** Forgets the requests whose identifiers `doomed` is true of (a deletion's purge); returns how many. */
  forget(doomed: (identifiers: string[]) => boolean): number {
    const removed = this.ring.removeWhere((r) => doomed([...r.profiles, ...(this.identifiers.get(r.id) ?? [])]));
    for (const r of removed) this.byId.delete(r.id), this.identifiers.delete(r.id);
    return removed.length;
  }

  /** The requests with these ids still in the log, newest first. */
  get(ids: number[]): RequestRecord[] {
    return ids.flatMap((id) => this.byId.get(id) ?? []).sort((a, b) => b.id - a.id);
  }

  list(filter: { destination?: string; action?: string; status?: string; profile?: string; limit?: number } = {}): RequestRecord[] {
    const profile = filter.profile?.toLowerCase();
    const out: RequestRecord[] = [];
    for (const r of this.ring.newest()) {
      if (filter.destination && r.destination !== filter.destination) continue;
      if (filter.action && !r.actions.includes(filter.action)) continue;
      if (filter.status && r.status !== filter.status) continue;
      if (profile && !this.identifiers.get(r.id)?.some((p) => p.includes(profile))) continue;
      out.push(r);
      if (out.length >= (filter.limit ?? 100)) break;
    }
    return out;
  }

  /** This destination's Klaviyo traffic per minute (minute = epoch ms / 60 000, floored), for the last day. */
  perMinute(destination: string): Array<{ minute: number } & Omit<KlaviyoMinute, 't'>> {
    return [...(this.minutes.get(destination) ?? [])].map(([minute, b]) => ({
      minute,
      requests: b.requests,
      rateLimited: b.rateLimited,
      failed: b.failed,
      items: b.items,
    }));
  }

  batchSizes(destination: string, sinceMs: number): { requests: number; avgItems: number; maxItems: number } {
    let requests = 0;
    let items = 0;
    let maxItems = 0;
    for (const [minute, b] of this.minutes.get(destination) ?? []) {
      if (minute < Math.floor(sinceMs / MINUTE)) continue;
      requests += b.sends;
      items += b.items;
      maxItems = Math.max(maxItems, b.maxItems);
    }
    return { requests, avgItems: requests ? Math.round((items / requests) * 10) / 10 : 0, maxItems };
  }

  /** Answers per endpoint in the last second and minute. */
  usage(destination: string, now = Date.now()): Array<{ endpoint: EndpointName; lastSecond: number; lastMinute: number }> {
    const out = [];
    for (const [endpoint, times] of this.recent.get(destination) ?? []) {
      const lastMinute = times.filter((t) => t > now - MINUTE).length;
      if (!lastMinute) continue;
      out.push({ endpoint, lastSecond: times.filter((t) => t > now - 1000).length, lastMinute });
    }
    return out;
  }
}
