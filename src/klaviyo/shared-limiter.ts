/**
 * Rate limits shared by every process that delivers for one Klaviyo account: each request is counted in a
 * ledger all of them see (the Postgres store), so N workers together stay within the account's tiers.
 */
import { createHash } from 'node:crypto';
import type { RateLedger } from '../store/types.js';
import type { EndpointName } from './endpoints.js';
import { pacedLimits, type RateBudget } from './limiter.js';

export class SharedRateLimiter implements RateBudget {
  /** When this process last heard an endpoint would be free again: a cheap answer for waitMs(). */
  private readonly freeAt = new Map<EndpointName, number>();
  private readonly account: string;

  constructor(
    private readonly ledger: RateLedger,
    apiKey: string,
    private readonly multiplier = 1,
  ) {
    // The ledger is keyed by a hash of the key: the key itself never leaves the process.
    this.account = createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
  }

  private key(endpoint: EndpointName): string {
    return `${this.account}:${endpoint}`;
  }

  async acquire(endpoint: EndpointName, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = await this.ledger.take(this.key(endpoint), pacedLimits(endpoint, this.multiplier));
      if (wait <= 0) return (this.freeAt.delete(endpoint), undefined);
      this.freeAt.set(endpoint, Date.now() + wait);
      // Wake a little after the slot frees, spread out, so waiting workers do not all ask at once.
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, wait + Math.random() * 20);
        signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
      });
    }
  }

  waitMs(endpoint: EndpointName): number {
    return Math.max(0, (this.freeAt.get(endpoint) ?? 0) - Date.now());
  }

  pause(endpoint: EndpointName, ms: number): void {
    this.freeAt.set(endpoint, Math.max(this.freeAt.get(endpoint) ?? 0, Date.now() + ms));
    this.ledger.pause(this.key(endpoint), ms).catch(() => {}); // best effort: acquire() still paces
  }
}
