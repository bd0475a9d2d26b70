/** GET /admin/overview: per destination, queue state and rates (store), traffic series and rate-limit headroom. */
import type { Store } from '../store/types.js';
import type { RequestLog, KlaviyoMinute } from '../activity/requests.js';
import { statusReport, type DestinationStatus } from '../store/status.js';
import { ENDPOINTS, type EndpointName } from '../klaviyo/endpoints.js';
import { limitsFor } from '../klaviyo/limiter.js';

export const WINDOWS = { '1h': { ms: 3600_000, bucketMs: 60_000 }, '24h': { ms: 24 * 3600_000, bucketMs: 10 * 60_000 } } as const;
export type WindowName = keyof typeof WINDOWS;

/** How one destination's Klaviyo requests are paced: its account's budget and the tiers' scale. */
export interface PacingView {
  waitMs(endpoint: EndpointName): number;
  scale: number;
}

export interface DestinationOverview {
  name: string;
  queue: Omit<DestinationStatus, 'rates'>;
  rates: DestinationStatus['rates'];
  series: Array<{ t: number; received: number; delivered: number; filtered: number; retried: number; dead: number }>;
  klaviyo: KlaviyoMinute[];
  batchSizes: { requests: number; avgItems: number; maxItems: number };
  rateLimits: Array<{
    endpoint: EndpointName;
    tier: string;
    burst: { limit: number; used: number };
    steady: { limit: number; used: number };
    headroom: number;
    pausedMs: number;
  }>;
}

export async function buildOverview(
  deps: { store: Store; requests: RequestLog; destinations: string[]; pacing: Map<string, PacingView> },
  window: WindowName,
  now = Date.now(),
): Promise<{ window: WindowName; bucketMs: number; now: number; destinations: DestinationOverview[] }> {
  const { ms, bucketMs } = WINDOWS[window];
  // Whole buckets: the first one starts at or before the window's start, and is counted whole.
  const first = Math.floor((now - ms) / bucketMs) * bucketMs;
  // One read of the per-minute counts serves the rates too: the window covers at least their hour.
  const minutes = await deps.store.throughput({ sinceMs: first });
  const lastHour = Math.floor((now - 3600_000) / 60_000);
  const status = await statusReport(
    deps.store,
    now,
    minutes.filter((m) => m.minute >= lastHour),
  );
  const names = [...new Set([...deps.destinations, ...Object.keys(status.destinations)])].sort();

  const destinations = names.map((name): DestinationOverview => {
    const { rates, ...queue } = status.destinations[name] ?? {
      queued: 0,
      leased: 0,
      retrying: 0,
      dead: 0,
      delivered: 0,
      filtered: 0,
      rates: { last5m: zero(), last60m: zero() },
    };
    const buckets = <K extends string>(rows: Array<{ minute: number } & Record<K, number>>, keys: readonly K[]) => bucketed(rows, keys, first, bucketMs, now);
    const pacing = deps.pacing.get(name);
    const rateLimits = pacing
      ? deps.requests.usage(name, now).map((u) => {
          const l = limitsFor(u.endpoint, pacing.scale);
          const used = Math.max(u.lastSecond / l.burst, u.lastMinute / l.steady);
          return {
            endpoint: u.endpoint,
            tier: ENDPOINTS[u.endpoint].tier,
            burst: { limit: l.burst, used: u.lastSecond },
            steady: { limit: l.steady, used: u.lastMinute },
            headroom: Math.round(Math.max(0, 1 - used) * 100) / 100,
            pausedMs: Math.round(pacing.waitMs(u.endpoint)),
          };
        })
      : [];
    return {
      name,
      queue,
      rates,
      series: buckets(
        minutes.filter((m) => m.destination === name),
        ['received', 'delivered', 'filtered', 'retried', 'dead'] as const,
      ),
      klaviyo: buckets(deps.requests.perMinute(name), ['requests', 'rateLimited', 'failed', 'items'] as const),
      batchSizes: deps.requests.batchSizes(name, first),
      rateLimits,
    };
  });
  return { window, bucketMs, now, destinations };
}

const zero = () => ({ received: 0, delivered: 0, filtered: 0, dead: 0 });

/** Per-minute rows summed into whole buckets from `first` to `now`, oldest first; buckets without rows are zeros. */
function bucketed<K extends string>(
  rows: Array<{ minute: number } & Record<K, number>>,
  keys: readonly K[],
  first: number,
  bucketMs: number,
  now: number,
): Array<{ t: number } & Record<K, number>> {
  const out: Array<{ t: number } & Record<K, number>> = [];
  for (let t = first; t <= now; t += bucketMs) out.push({ t, ...(Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>) });
  for (const r of rows) {
    const bucket = out[Math.floor((r.minute * 60_000 - first) / bucketMs)];
    if (bucket) for (const k of keys) (bucket as Record<K, number>)[k] += r[k];
  }
  return out;
}
