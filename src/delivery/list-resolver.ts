/**
 * Klaviyo list ids for list references. An audience's list is looked up by name, created when missing
 * (Klaviyo allows 150 new lists a day, so never create blindly) and remembered, in memory and in the store.
 */
import type { ListRef } from '../klaviyo/operations.js';
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';
import { KeptIds, type KeyValue } from './kept-ids.js';

export function getListsByName(name: string): KlaviyoRequest {
  const qs = new URLSearchParams({ filter: `equals(name,${JSON.stringify(name)})` });
  return { endpoint: 'getLists', method: 'GET', path: `${ENDPOINTS.getLists.path}?${qs.toString()}` };
}

export function createList(name: string): KlaviyoRequest {
  return { endpoint: 'createList', method: 'POST', path: ENDPOINTS.createList.path, body: { data: { type: 'list', attributes: { name } } } };
}

export class ListResolver {
  private readonly ids: KeptIds;

  constructor(
    private readonly transport: KlaviyoTransport,
    kv?: KeyValue,
  ) {
    this.ids = new KeptIds(kv);
  }

  /** The list's id; lookups go through `via` when given (the executor's observed transport, so they are reported). */
  resolve(ref: ListRef, via: KlaviyoTransport = this.transport): Promise<string> {
    if ('id' in ref) return Promise.resolve(ref.id);
    return this.ids.get(ref.audienceKey, () => find(ref.audienceKey, ref.name ?? ref.audienceKey, via));
  }
}

async function find(audienceKey: string, name: string, via: KlaviyoTransport): Promise<string> {
  const found = await via.send(getListsByName(name));
  const id: string | undefined = found.body?.data?.[0]?.id ?? (await via.send(createList(name))).body?.data?.id;
  if (!id) throw new Error(`Klaviyo returned no list id for audience ${audienceKey}`);
  return id;
}
