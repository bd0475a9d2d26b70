/**
 * Custom-objects data source ids by title. A data source is looked up among the account's (GET /api/data-sources
 * takes no filter: its pages are read until the title is found), created when missing, and its id kept, in memory
 * and in the store (per Klaviyo account), so later runs send records without looking again.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';
import type { DataSources } from '../operation-kinds/index.js';
import type { KeyValue } from './list-resolver.js';

const firstPage = `${ENDPOINTS.getDataSources.path}?${new URLSearchParams({ 'page[size]': String(ENDPOINTS.getDataSources.maxItems) })}`;

export function createDataSource(title: string): KlaviyoRequest {
  return {
    endpoint: 'createDataSource',
    method: 'POST',
    path: ENDPOINTS.createDataSource.path,
    body: {
      data: {
        type: 'data-source',
        attributes: { title, visibility: 'private', description: 'Warehouse rows sent by klaviyo-destination (sync --action upsertDataSourceRecord).' },
      },
    },
  };
}

export class DataSourceResolver implements DataSources {
  private readonly cache = new Map<string, Promise<string>>();

  /** `kv` keeps ids by title for the account this transport reaches. */
  constructor(
    private readonly transport: KlaviyoTransport,
    private readonly kv?: KeyValue,
  ) {}

  resolve(title: string, via: KlaviyoTransport = this.transport): Promise<string> {
    let hit = this.cache.get(title);
    if (!hit) {
      hit = this.find(title, via);
      this.cache.set(title, hit);
      hit.catch(() => this.cache.delete(title)); // a failed lookup is tried again next time
    }
    return hit;
  }

  async forget(title: string): Promise<void> {
    this.cache.delete(title);
    await this.kv?.set(title, '');
  }

  private async find(title: string, via: KlaviyoTransport): Promise<string> {
    const kept = await this.kv?.get(title);
    if (kept) return kept;
    let id: string | undefined;
    for (let path: string | undefined = firstPage; path && !id; ) {
      const page: any = (await via.send({ endpoint: 'getDataSources', method: 'GET', path })).body;
      id = (page?.data ?? []).find((d: any) => d?.attributes?.title === title)?.id;
      const next: string | undefined = page?.links?.next;
      path = next ? next.replace(/^https?:\/\/[^/]+/, '') : undefined;
    }
    id ??= (await via.send(createDataSource(title))).body?.data?.id;
    if (!id) throw new Error(`Klaviyo returned no id for the data source ${JSON.stringify(title)}`);
    await this.kv?.set(title, id);
    return id;
  }
}
