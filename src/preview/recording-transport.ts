/**
 * A Klaviyo transport that sends nothing: it records each request and answers as Klaviyo would, with placeholder
 * ids where only Klaviyo knows the id (profiles looked up, lists and data sources created, import jobs). Preview runs delivery's own
 * send code over it, so what it shows is what delivery sends to an account that has none of the audience lists yet.
 */
import type { KlaviyoRequest, KlaviyoResponse, KlaviyoTransport } from '../klaviyo/request.js';

export class RecordingTransport implements KlaviyoTransport {
  readonly requests: KlaviyoRequest[] = [];

  async send(request: KlaviyoRequest): Promise<KlaviyoResponse> {
    this.requests.push(request);
    return { status: request.method === 'GET' ? 200 : 202, headers: {}, body: answer(request) };
  }
}

/** Profile ids for the values of a lookup's filter: `equals(field,"v")` or `any(field,["a","b"])`. */
function lookedUp(path: string): Array<{ type: 'profile'; id: string; attributes: Record<string, string> }> {
  const filter = new URL(path, 'http://klaviyo').searchParams.get('filter') ?? '';
  const m = /^(?:equals|any)\((\w+),(.*)\)$/.exec(filter);
  if (!m) return [];
  const parsed: unknown = JSON.parse(m[2]);
  const values = Array.isArray(parsed) ? parsed : [parsed];
  return values.map((v) => ({ type: 'profile', id: `<profile id of ${m[1]} ${String(v)}>`, attributes: { [m[1]]: String(v) } }));
}

function answer(request: KlaviyoRequest): unknown {
  const body = request.body as { data?: { attributes?: { name?: string; title?: string } } } | undefined;
  switch (request.endpoint) {
    case 'getProfiles':
      return { data: lookedUp(request.path) };
    case 'getLists':
      return { data: [] };
    case 'createList': {
      const name = body?.data?.attributes?.name ?? '';
      return { data: { type: 'list', id: `<list id of ${name}>`, attributes: { name } } };
    }
    case 'getDataSources':
      return { data: [] };
    case 'createDataSource': {
      const title = body?.data?.attributes?.title ?? '';
      return { data: { type: 'data-source', id: `<data source id of ${title}>`, attributes: { title } } };
    }
    case 'bulkImportProfiles':
      return { data: { type: 'profile-bulk-import-job', id: '<import job id>' } };
    case 'getBulkImportJob':
      return { data: { type: 'profile-bulk-import-job', id: '<import job id>', attributes: { status: 'complete', failed_count: 0 } } };
    default:
      return undefined;
  }
}
