/** GET /admin/overview: per destination, queue state and rates (store), traffic series and rate-limit headroom. */
import type { Store } from '../store/types.js';
import type { RequestLog, KlaviyoMinute } from '../activity/requests.js';
import { statusReport, type DestinationStatus } from '../service/status.js';
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
  series: Array<{ t: number; received: number; delivered: number; retried: number; dead: number }>;
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
  const [status, minutes] = await Promise.all([statusReport(deps.store, now), deps.store.throughput({ sinceMs: first })]);
  const names = [...new Set([...deps.destinations, ...Object.keys(status.destinations)])].sort();

  const destinations = names.map((name): DestinationOverview => {
    const { rates, ...queue } = status.destinations[name] ?? { queued: 0, leased: 0, retrying: 0, dead: 0, delivered: 0, rates: { last5m: zero(), last60m: zero() } };
    const series: DestinationOverview['series'] = [];
    for (let t = first; t <= now; t += bucketMs) series.push({ t, received: 0, delivered: 0, retried: 0, dead: 0 });
    for (const m of minutes) {
      const i = Math.floor((m.minute * 60_000 - first) / bucketMs);
      if (m.destination !== name || i < 0 || i >= series.length) continue;
      series[i].received += m.received;
      series[i].delivered += m.delivered;
      series[i].retried += m.retried;
      series[i].dead += m.dead;
    }
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
      series,
      klaviyo: deps.requests.series(name, first, bucketMs, now),
      batchSizes: deps.requests.batchSizes(name, first),
      rateLimits,
    };
  });
  return { window, bucketMs, now, destinations };
}

const zero = () => ({ received: 0, delivered: 0, dead: 0 });
