/**
 * The `throttled` alert's evidence (docs/alerts.md): per destination and endpoint, the Klaviyo answers of the last
 * hour, 429 or not. 429s "hold delivery below X % of the ceiling" when, within the window, an endpoint was answered
 * 429 and the requests it accepted stayed below X % of what its rate limit allows in that window.
 */
import type { EndpointName } from '../klaviyo/endpoints.js';
import { limitsFor } from '../klaviyo/limiter.js';

const KEEP_MS = 60 * 60_000;

interface Answer {
  at: number;
  throttled: boolean;
}

export class ThrottleWatch {
  private readonly answers = new Map<string, Map<EndpointName, Answer[]>>();

  answered(destination: string, endpoint: EndpointName, httpStatus: number, now = Date.now()): void {
    let byEndpoint = this.answers.get(destination);
    if (!byEndpoint) this.answers.set(destination, (byEndpoint = new Map()));
    const list = byEndpoint.get(endpoint) ?? [];
    list.push({ at: now, throttled: httpStatus === 429 });
    while (list.length && list[0].at <= now - KEEP_MS) list.shift();
    byEndpoint.set(endpoint, list);
  }

  /**
   * The endpoints 429s held below `belowPercent` % of their ceiling over the last `forMinutes`, with the figures
   * the alert tells. `scale` is the destination's `delivery.rateLimitScale` (its ceiling's multiplier).
   */
  held(destination: string, o: { belowPercent: number; forMinutes: number; scale: number }, now = Date.now()) {
    const since = now - o.forMinutes * 60_000;
    const out: Array<{ endpoint: EndpointName; accepted: number; throttled: number; ceiling: number }> = [];
    for (const [endpoint, list] of this.answers.get(destination) ?? []) {
      let accepted = 0;
      let throttled = 0;
      for (const a of list) if (a.at > since) a.throttled ? throttled++ : accepted++;
      const ceiling = Math.max(1, Math.floor(limitsFor(endpoint, o.scale).steady * o.forMinutes));
      if (throttled > 0 && accepted < (ceiling * o.belowPercent) / 100) out.push({ endpoint, accepted, throttled, ceiling });
    }
    return out;
  }

  forget(destination: string): void {
    this.answers.delete(destination);
  }
}
