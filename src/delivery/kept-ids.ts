/** Where ids found in Klaviyo are kept across restarts, by key (an audience key, a data source title). */
export interface KeyValue {
  get(key: string): Promise<string | undefined>;
  set(key: string, id: string): Promise<void>;
}

/**
 * Ids of things found (or created) in Klaviyo by name: one lookup in flight per key, the answer kept in memory and
 * in the store, so later runs and restarts do not look again. A failed lookup is not kept: the next call tries anew.
 */
export class KeptIds {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(private readonly kv?: KeyValue) {}

  get(key: string, find: () => Promise<string>): Promise<string> {
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.lookUp(key, find);
      this.cache.set(key, hit);
      hit.catch(() => this.cache.delete(key));
    }
    return hit;
  }

  /** Drops a kept id that Klaviyo no longer knows (it answered 404), so the next `get` finds it again. */
  async forget(key: string): Promise<void> {
    this.cache.delete(key);
    await this.kv?.set(key, '');
  }

  private async lookUp(key: string, find: () => Promise<string>): Promise<string> {
    const kept = await this.kv?.get(key);
    if (kept) return kept;
    const id = await find();
    await this.kv?.set(key, id);
    return id;
  }
}
