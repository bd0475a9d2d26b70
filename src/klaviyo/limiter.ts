/**
 * Client-side pacing to Klaviyo's per-account, per-endpoint limits: a steady window (60 s) per endpoint, spent
 * evenly through a short pacing window (limitsFor), as a sliding log of send times. One RateLimiter = one Klaviyo
 * account.
 */
import { ENDPOINTS, TIERS, type EndpointName } from './endpoints.js';

/**
 * Klaviyo counts in fixed windows that start when a request *arrives*; we count from when it is *sent*. A
 * first request that travels slower than a later one would make our window end before Klaviyo's, so each
 * window is kept a little longer than Klaviyo's (1 s and 60 s).
 */
const MARGIN_MS = 100;
const BURST_MS = 1000 + MARGIN_MS;
const STEADY_MS = 60_000 + MARGIN_MS;

/** One endpoint's windows: at most `burst` requests per burstMs and `steady` per steadyMs. */
export interface WindowLimits {
  burst: number;
  burstMs: number;
  steady: number;
  steadyMs: number;
}

/** Klaviyo's own windows for this endpoint (with our margin), its tier × the multiplier. */
export function limitsFor(endpoint: EndpointName, multiplier = 1): WindowLimits {
  const tier = TIERS[ENDPOINTS[endpoint].tier];
  return {
    burst: Math.max(1, Math.floor(tier.burst * multiplier)),
    burstMs: BURST_MS,
    steady: Math.max(1, Math.floor(tier.steady * multiplier)),
    steadyMs: STEADY_MS,
  };
}

/**
 * The windows the limiters enforce: Klaviyo's steady window, and instead of its 1 s burst a pace. Spent at its
 * burst, a minute's budget is gone in seconds and nothing goes for the rest of the minute, so events wait up to a
 * minute for their turn. Paced, at most PACE_S seconds' share of the steady budget (at least 2 where the burst
 * allows, so a slot missed for a moment can be caught up) goes per `burstMs`: within both of Klaviyo's windows, and
 * the minute's budget spent evenly over it.
 */
export function pacedLimits(endpoint: EndpointName, multiplier = 1): WindowLimits {
  const l = limitsFor(endpoint, multiplier);
  const pace = Math.min(l.burst, Math.max(2, Math.ceil((l.steady / 60) * PACE_S)));
  return { ...l, burst: pace, burstMs: Math.max(l.burstMs, Math.ceil((pace * l.steadyMs) / l.steady)) };
}
const PACE_S = 2;

/** Pacing of one Klaviyo account's requests, in this process or shared by several. */
export interface RateBudget {
  /** Resolves when a request to this endpoint may go, having counted it. */
  acquire(endpoint: EndpointName, signal?: AbortSignal): Promise<void>;
  /** How long a request to this endpoint would wait now (0 = it would go at once); counts nothing. */
  waitMs(endpoint: EndpointName): number;
  /** After a 429: nobody sends to this endpoint until Retry-After has passed. */
  pause(endpoint: EndpointName, ms: number): void;
}

interface Window {
  times: number[];
  pausedUntil: number;
}

export class RateLimiter implements RateBudget {
  private readonly windows = new Map<EndpointName, Window>();
  private readonly multiplier: number;
  private readonly now: () => number;

  constructor(opts: { multiplier?: number; now?: () => number } = {}) {
    this.multiplier = opts.multiplier ?? 1;
    this.now = opts.now ?? Date.now;
  }

  private window(endpoint: EndpointName): Window {
    let w = this.windows.get(endpoint);
    if (!w) this.windows.set(endpoint, (w = { times: [], pausedUntil: 0 }));
    return w;
  }

  /** How long until a request to this endpoint may go (0 = now); reserves the slot when 0. */
  tryTake(endpoint: EndpointName): number {
    const wait = this.waitMs(endpoint);
    if (wait === 0) this.window(endpoint).times.push(this.now());
    return wait;
  }

  /** How long until a request to this endpoint may go (0 = now), without reserving anything. */
  waitMs(endpoint: EndpointName): number {
    const { burst, burstMs, steady } = pacedLimits(endpoint, this.multiplier);
    const w = this.window(endpoint);
    const now = this.now();
    if (w.pausedUntil > now) return w.pausedUntil - now;
    while (w.times.length && w.times[0] <= now - STEADY_MS) w.times.shift();
    if (w.times.length >= steady) return w.times[w.times.length - steady] + STEADY_MS - now + 1;
    const inBurst = w.times.length >= burst ? w.times[w.times.length - burst] : -Infinity;
    if (inBurst > now - burstMs) return inBurst + burstMs - now + 1;
    return 0;
  }

  async acquire(endpoint: EndpointName, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.tryTake(endpoint);
      if (wait === 0) return;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, wait);
        signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
      });
    }
  }

  pause(endpoint: EndpointName, ms: number): void {
    const w = this.window(endpoint);
    w.pausedUntil = Math.max(w.pausedUntil, this.now() + ms);
  }
}
