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

/** The limits the limiters enforce: Klaviyo's windows, and requests spaced `spacingMs` apart (see pacedLimits). */
export interface PacedLimits extends WindowLimits {
  spacingMs: number;
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
 * What the limiters enforce: Klaviyo's windows, and a pace. Spent at its burst, a minute's budget is gone in seconds
 * and nothing goes for the rest of the minute, so events wait up to a minute for their turn. Paced, requests go one
 * per `spacingMs` (the steady budget spread evenly over its window), and one slot missed for a moment may be caught
 * up at once (a cell-rate pace: a request may go `spacingMs` before its slot). So a request waits at most one
 * spacing for its slot (0.4 s on an M endpoint), and a backlog still gets the whole budget.
 */
export function pacedLimits(endpoint: EndpointName, multiplier = 1): PacedLimits {
  const l = limitsFor(endpoint, multiplier);
  return { ...l, spacingMs: Math.ceil(l.steadyMs / l.steady) };
}

/** Pacing of one Klaviyo account's requests, in this process or shared by several. */
export interface RateBudget {
  /** Resolves when a request to this endpoint may go, having counted it; with when it was counted, for `arrived`. */
  acquire(endpoint: EndpointName, signal?: AbortSignal): Promise<number | void>;
  /**
   * The request counted at `countedAt` has been answered, so it reached Klaviyo by now. Klaviyo's windows start when
   * a request arrives: a count moved to now cannot end our window before Klaviyo's, however long the request took
   * to get there (a large body on a busy process, a slow network), which the margin alone does not cover.
   */
  arrived?(endpoint: EndpointName, countedAt: number): void;
  /** How long a request to this endpoint would wait now (0 = it would go at once); counts nothing. */
  waitMs(endpoint: EndpointName): number;
  /** After a 429: nobody sends to this endpoint until Retry-After has passed. */
  pause(endpoint: EndpointName, ms: number): void;
}

interface Window {
  times: number[];
  pausedUntil: number;
  /** When the next request's slot comes (the pace's theoretical arrival time). */
  nextSlot: number;
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
    if (!w) this.windows.set(endpoint, (w = { times: [], pausedUntil: 0, nextSlot: 0 }));
    return w;
  }

  /** How long until a request to this endpoint may go (0 = now); reserves the slot when 0. */
  tryTake(endpoint: EndpointName): number {
    const wait = this.waitMs(endpoint);
    if (wait === 0) {
      const w = this.window(endpoint);
      const now = this.now();
      w.times.push(now);
      w.nextSlot = Math.max(w.nextSlot, now) + pacedLimits(endpoint, this.multiplier).spacingMs;
    }
    return wait;
  }

  /** How long until a request to this endpoint may go (0 = now), without reserving anything. */
  waitMs(endpoint: EndpointName): number {
    const { burst, burstMs, steady, spacingMs } = pacedLimits(endpoint, this.multiplier);
    const w = this.window(endpoint);
    const now = this.now();
    if (w.pausedUntil > now) return w.pausedUntil - now;
    while (w.times.length && w.times[0] <= now - STEADY_MS) w.times.shift();
    if (w.times.length >= steady) return w.times[w.times.length - steady] + STEADY_MS - now + 1;
    const inBurst = w.times.length >= burst ? w.times[w.times.length - burst] : -Infinity;
    if (inBurst > now - burstMs) return inBurst + burstMs - now + 1;
    // One spacing early at most: a slot missed for a moment is caught up, never two.
    if (w.nextSlot - spacingMs > now) return w.nextSlot - spacingMs - now;
    return 0;
  }

  async acquire(endpoint: EndpointName, signal?: AbortSignal): Promise<number> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.tryTake(endpoint);
      if (wait === 0) return this.window(endpoint).times.at(-1)!;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, wait);
        signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
      });
    }
  }

  arrived(endpoint: EndpointName, countedAt: number): void {
    const { times } = this.window(endpoint);
    const at = this.now();
    const i = times.lastIndexOf(countedAt);
    if (i < 0 || at <= countedAt) return; // already out of the windows, or no later than counted
    times.splice(i, 1);
    let j = times.length;
    while (j > 0 && times[j - 1] > at) j--;
    times.splice(j, 0, at); // the log stays in time order: the windows read it so
  }

  pause(endpoint: EndpointName, ms: number): void {
    const w = this.window(endpoint);
    w.pausedUntil = Math.max(w.pausedUntil, this.now() + ms);
  }
}
