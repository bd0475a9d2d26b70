/**
 * Custom-objects data source ids by title. A data source is looked up among the account's (GET /api/data-sources
 * takes no filter: its pages are read until the title is found), created when missing, and its id kept, in memory
 * and in the store (per Klaviyo account), so later runs send records without looking again.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import { pages } from '../klaviyo/pages.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';
import type { DataSources } from '../operation-kinds/index.js';
import { KeptIds, type KeyValue } from './kept-ids.js';

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
  private readonly ids: KeptIds;

  /** `kv` keeps ids by title for the account this transport reaches. */
  constructor(
    private readonly transport: KlaviyoTransport,
    kv?: KeyValue,
  ) {
    this.ids = new KeptIds(kv);
  }

  resolve(title: string, via: KlaviyoTransport = this.transport): Promise<string> {
    return this.ids.get(title, () => find(title, via));
  }

  forget(title: string): Promise<void> {
    return this.ids.forget(title);
  }
}

async function find(title: string, via: KlaviyoTransport): Promise<string> {
  for await (const page of pages(via, 'getDataSources', firstPage)) {
    const id: string | undefined = (page?.data ?? []).find((d: any) => d?.attributes?.title === title)?.id;
    if (id) return id;
  }
  const id: string | undefined = (await via.send(createDataSource(title))).body?.data?.id;
  if (!id) throw new Error(`Klaviyo returned no id for the data source ${JSON.stringify(title)}`);
  return id;
}
