/** Klaviyo's fixed rate-limit windows per account and endpoint: burst (1 s) and steady (60 s). */
import { ENDPOINTS, TIERS, type EndpointName } from '../klaviyo/endpoints.js';

export class RateWindows {
  private readonly counters = new Map<string, { burstStart: number; burst: number; steadyStart: number; steady: number }>();
  constructor(private readonly multiplier: number) {}

  /** 0 when allowed (and counted), else seconds until the exceeded window resets. */
  take(account: string, endpoint: EndpointName, now = Date.now()): { retryAfter: number; limit: number; remaining: number; reset: number } {
    const tier = TIERS[ENDPOINTS[endpoint].tier];
    const burst = Math.max(1, Math.floor(tier.burst * this.multiplier));
    const steady = Math.max(1, Math.floor(tier.steady * this.multiplier));
    const key = `${account}|${endpoint}`;
    let c = this.counters.get(key);
    if (!c) this.counters.set(key, (c = { burstStart: now, burst: 0, steadyStart: now, steady: 0 }));
    if (now - c.burstStart >= 1000) (c.burstStart = now), (c.burst = 0);
    if (now - c.steadyStart >= 60_000) (c.steadyStart = now), (c.steady = 0);
    const reset = Math.ceil((c.steadyStart + 60_000 - now) / 1000);
    if (c.steady >= steady) return { retryAfter: Math.max(1, reset), limit: steady, remaining: 0, reset };
    if (c.burst >= burst) return { retryAfter: 1, limit: steady, remaining: steady - c.steady, reset };
    c.burst++;
    c.steady++;
    return { retryAfter: 0, limit: steady, remaining: steady - c.steady, reset };
  }

  clear(): void {
    this.counters.clear();
  }
}
