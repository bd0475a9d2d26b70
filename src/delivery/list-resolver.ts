/**
 * Klaviyo list ids for list references. An audience's list is looked up by name, created when missing
 * (Klaviyo allows 150 new lists a day, so never create blindly) and remembered, in memory and in the store.
 */
import type { ListRef } from '../klaviyo/operations.js';
import type { KlaviyoTransport } from '../klaviyo/request.js';
import { createList, getListsByName } from '../klaviyo/render.js';

export interface KeyValue {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export class ListResolver {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(
    private readonly transport: KlaviyoTransport,
    private readonly kv?: KeyValue,
  ) {}

  resolve(ref: ListRef): Promise<string> {
    if ('id' in ref) return Promise.resolve(ref.id);
    const key = `audience:${ref.audienceKey}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.find(ref.audienceKey, ref.name ?? ref.audienceKey, key);
      this.cache.set(key, hit);
      hit.catch(() => this.cache.delete(key)); // a failed lookup is retried next time
    }
    return hit;
  }

  /** Forget a list id that Klaviyo no longer knows (404), so the next resolve looks it up again. */
  forget(ref: ListRef): void {
    if ('audienceKey' in ref) this.cache.delete(`audience:${ref.audienceKey}`);
  }

  private async find(audienceKey: string, name: string, key: string): Promise<string> {
    const stored = await this.kv?.get(key);
    if (stored) return stored;
    const found = await this.transport.send(getListsByName(name));
    let id: string | undefined = found.body?.data?.[0]?.id;
    if (!id) {
      const created = await this.transport.send(createList(name));
      id = created.body?.data?.id;
    }
    if (!id) throw new Error(`Klaviyo returned no list id for audience ${audienceKey}`);
    await this.kv?.set(key, id);
    return id;
  }
}
