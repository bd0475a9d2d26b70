/**
 * Klaviyo list ids for list references. An audience's list is looked up by name, created when missing
 * (Klaviyo allows 150 new lists a day, so never create blindly) and remembered, in memory and in the store.
 */
import type { ListRef } from '../klaviyo/operations.js';
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';

export function getListsByName(name: string): KlaviyoRequest {
  const qs = new URLSearchParams({ filter: `equals(name,${JSON.stringify(name)})` });
  return { endpoint: 'getLists', method: 'GET', path: `${ENDPOINTS.getLists.path}?${qs.toString()}` };
}

export function getList(id: string): KlaviyoRequest {
  return { endpoint: 'getList', method: 'GET', path: ENDPOINTS.getList.path.replace('{id}', encodeURIComponent(id)) };
}

export function createList(name: string): KlaviyoRequest {
  return { endpoint: 'createList', method: 'POST', path: ENDPOINTS.createList.path, body: { data: { type: 'list', attributes: { name } } } };
}

/** Where found list ids are remembered across restarts, by audience key. */
export interface KeyValue {
  get(audienceKey: string): Promise<string | undefined>;
  set(audienceKey: string, listId: string): Promise<void>;
}

export class ListResolver {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(
    private readonly transport: KlaviyoTransport,
    private readonly kv?: KeyValue,
  ) {}

  /** The list's id; lookups go through `via` when given (the executor's observed transport, so they are reported). */
  resolve(ref: ListRef, via: KlaviyoTransport = this.transport): Promise<string> {
    if ('id' in ref) return Promise.resolve(ref.id);
    const key = ref.audienceKey;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.find(key, ref.name ?? key, via);
      this.cache.set(key, hit);
      hit.catch(() => this.cache.delete(key)); // a failed lookup is retried next time
    }
    return hit;
  }

  private async find(audienceKey: string, name: string, via: KlaviyoTransport): Promise<string> {
    const stored = await this.kv?.get(audienceKey);
    if (stored) return stored;
    const found = await via.send(getListsByName(name));
    let id: string | undefined = found.body?.data?.[0]?.id;
    if (!id) {
      const created = await via.send(createList(name));
      id = created.body?.data?.id;
    }
    if (!id) throw new Error(`Klaviyo returned no list id for audience ${audienceKey}`);
    await this.kv?.set(audienceKey, id);
    return id;
  }
}
