/**
 * Suppressed people (Segment's "Delete and Suppress"): later messages naming them are dropped at ingest, counted,
 * and never stored. The store keeps salted hashes of their identifiers, not the identifiers; every process loads
 * the set and refreshes it, so a suppression made through one process holds in all of them within `refreshMs`.
 */
import type { PrivacyStore } from '../store/types.js';
import { messageHashes, personHashes, type Person } from './person.js';

export class Suppressions {
  private hashes = new Set<string>();
  private salt?: string;
  private timer?: NodeJS.Timeout;

  constructor(private readonly store: PrivacyStore) {}

  async load(refreshMs = 5000): Promise<void> {
    await this.refresh();
    if (refreshMs > 0) this.timer = setInterval(() => void this.refresh().catch(() => {}), refreshMs).unref();
  }

  async refresh(): Promise<void> {
    this.salt ??= await this.store.salt();
    this.hashes = new Set(await this.store.suppressed());
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether this message names a suppressed person (no hashing at all while nobody is suppressed). */
  names(message: unknown): boolean {
    if (!this.hashes.size || !this.salt) return false;
    return messageHashes(message, this.salt).some((h) => this.hashes.has(h));
  }

  async add(p: Person): Promise<number> {
    this.salt ??= await this.store.salt();
    const hs = personHashes(p, this.salt);
    await this.store.suppress(hs);
    for (const h of hs) this.hashes.add(h);
    return hs.length;
  }

  /** Lifts the suppression of these identifiers; returns how many were suppressed. */
  async lift(p: Person): Promise<number> {
    this.salt ??= await this.store.salt();
    const hs = personHashes(p, this.salt);
    const n = await this.store.unsuppress(hs);
    for (const h of hs) this.hashes.delete(h);
    return n;
  }

  get size(): number {
    return this.hashes.size;
  }
}
