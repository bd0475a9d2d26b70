/** What `status` and `GET /admin/status` report: queue state per destination and recent rates. */
import type { DestinationStats, MinuteCounts, Store } from './types.js';
import { KV } from './keys.js';

export interface Rates {
  /** Per second, averaged over the window. */
  received: number;
  delivered: number;
  /** Settled without a request: matched no action. */
  filtered: number;
  dead: number;
}

export interface DestinationStatus extends DestinationStats {
  rates: { last5m: Rates; last60m: Rates };
  /** Set while delivery is paused because Klaviyo refused the API key: why, and since when (ms). */
  paused?: { reason: string; since: number };
  /** Updates delivered without an identifier another person's profile holds (docs/identity.md): how many, and the last. */
  identityConflicts?: { count: number; last: { messageId: string; note: string; at: number } };
}

async function kvJson<T>(store: Store, key: string): Promise<T | undefined> {
  const raw = await store.kvGet(key);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

async function pauseOf(store: Store, destination: string): Promise<DestinationStatus['paused']> {
  const raw = await store.kvGet(KV.paused(destination));
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as DestinationStatus['paused'];
  } catch {
    return undefined;
  }
}

/** `minutes`: per-minute counts covering at least the last hour, when the caller has read them already. */
export interface StatusReport {
  destinations: Record<string, DestinationStatus>;
  /** The oldest item kept of each kind that has a retention limit (ISO times; absent when there is none). */
  oldest: { deadLetter?: string; throughput?: string; deletedRow?: string };
}

export async function statusReport(store: Store, now = Date.now(), minutes?: MinuteCounts[]): Promise<StatusReport> {
  const [stats, counts] = await Promise.all([store.stats(), minutes ?? store.throughput({ sinceMs: now - 60 * 60_000 })]);
  const names = new Set([...Object.keys(stats.byDestination), ...counts.map((m) => m.destination)]);
  const rates = (destination: string, windowMin: number): Rates => {
    // Whole minutes since the window's first minute, plus the current, partial one.
    const first = Math.floor((now - windowMin * 60_000) / 60_000);
    const seconds = (now - first * 60_000) / 1000;
    const sum = { received: 0, delivered: 0, filtered: 0, dead: 0 };
    for (const m of counts) {
      if (m.destination !== destination || m.minute < first) continue;
      sum.received += Number(m.received);
      sum.delivered += Number(m.delivered);
      sum.filtered += Number(m.filtered);
      sum.dead += Number(m.dead);
    }
    // Three significant digits: light traffic over an hour is a small rate, not zero.
    const r = (n: number) => Number((n / seconds).toPrecision(3));
    return { received: r(sum.received), delivered: r(sum.delivered), filtered: r(sum.filtered), dead: r(sum.dead) };
  };
  const destinations: Record<string, DestinationStatus> = {};
  for (const d of [...names].sort()) {
    const s = stats.byDestination[d] ?? { queued: 0, leased: 0, retrying: 0, dead: 0, delivered: 0, filtered: 0 };
    const paused = await pauseOf(store, d);
    const identityConflicts = await kvJson<DestinationStatus['identityConflicts']>(store, KV.identityConflicts(d));
    destinations[d] = {
      ...s,
      rates: { last5m: rates(d, 5), last60m: rates(d, 60) },
      ...(paused ? { paused } : {}),
      ...(identityConflicts ? { identityConflicts } : {}),
    };
  }
  const o = await store.privacy.oldest();
  const oldest: StatusReport['oldest'] = {};
  if (o.deadLetter !== undefined) oldest.deadLetter = new Date(o.deadLetter).toISOString();
  if (o.throughput !== undefined) oldest.throughput = new Date(o.throughput).toISOString();
  if (o.deletedRow !== undefined) oldest.deletedRow = new Date(o.deletedRow).toISOString();
  return { destinations, oldest };
}

/**
 * The report as a table for a terminal. `delivered`: sent to Klaviyo; `filtered`: matched no action (a page, group
 * or alias no subscription takes), settled without a request.
 */
export function formatStatus(report: StatusReport): string {
  const rows = Object.entries(report.destinations);
  const kept = [
    ...(report.oldest.deadLetter ? [`oldest dead letter: ${report.oldest.deadLetter}`] : []),
    ...(report.oldest.throughput ? [`oldest throughput minute: ${report.oldest.throughput}`] : []),
    ...(report.oldest.deletedRow ? [`oldest deleted sync row kept: ${report.oldest.deletedRow}`] : []),
  ];
  if (!rows.length) return ['no messages yet', ...kept].join('\n') + '\n';
  const head = [
    'destination',
    'queued',
    'in flight',
    'retrying',
    'dead letters',
    'delivered',
    'filtered',
    'received/s 5m',
    'received/s 1h',
    'delivered/s 5m',
    'delivered/s 1h',
    'dead/s 5m',
    'dead/s 1h',
  ];
  const body = rows.map(([name, s]) => {
    const { last5m: m5, last60m: h1 } = s.rates;
    return [name, s.queued, s.leased, s.retrying, s.dead, s.delivered, s.filtered, m5.received, h1.received, m5.delivered, h1.delivered, m5.dead, h1.dead].map(
      String,
    );
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const pauses = rows
    .filter(([, s]) => s.paused)
    .map(([name, s]) => `${name}: PAUSED since ${new Date(s.paused!.since).toISOString()}, messages kept queued: ${s.paused!.reason}`);
  const conflicts = rows
    .filter(([, s]) => s.identityConflicts)
    .map(
      ([name, s]) =>
        `${name}: ${s.identityConflicts!.count} update(s) delivered around an identity ` +
        `conflict; last (${s.identityConflicts!.last.messageId}): ${s.identityConflicts!.last.note}`,
    );

  return [line(head), ...body.map(line), ...pauses, ...conflicts, ...kept].join('\n') + '\n';
}
