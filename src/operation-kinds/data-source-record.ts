/**
 * data-source.record — records of a custom-objects data source: POST /api/data-source-record-bulk-create-jobs (≤500
 * records, 4 MB, its own small tier: 3/s, 15/min), one request per data source. The data source is found by title or
 * created (ctx.dataSources), its id kept; a kept id Klaviyo answers 404 to is forgotten and found again, once.
 * Klaviyo answers 204 with no job to poll, so a refusal fails the whole request: one record at a time would take
 * half an hour at 15 a minute, so a refused request is not split (isolatesRefusals: false).
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import { AuthError, KlaviyoError } from '../klaviyo/errors.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { delivered, type Op, type OperationKindModule } from './types.js';

type RecordOp = Op<'data-source.record'>;

function bulkJob(dataSourceId: string, ops: RecordOp[]): KlaviyoRequest {
  return {
    endpoint: 'bulkCreateDataSourceRecords',
    method: 'POST',
    path: ENDPOINTS.bulkCreateDataSourceRecords.path,
    body: {
      data: {
        type: 'data-source-record-bulk-create-job',
        attributes: { 'data-source-records': { data: ops.map((op) => ({ type: 'data-source-record', attributes: { record: op.record } })) } },
        relationships: { 'data-source': { data: { type: 'data-source', id: dataSourceId } } },
      },
    },
  };
}

export const dataSourceRecord: OperationKindModule<'data-source.record'> = {
  kind: 'data-source.record',
  maxItems: ENDPOINTS.bulkCreateDataSourceRecords.maxItems,
  // Klaviyo's 4 MB less room for the envelope.
  maxBytes: 3_900_000,
  groupKey: (op) => `data-source.record|${op.dataSource}`,
  fillEndpoint: () => 'bulkCreateDataSourceRecords',
  isolatesRefusals: false,
  async send(items, ctx) {
    const ops = items.map((i) => i.op);
    const title = ops[0].dataSource;
    const sources = ctx.dataSources;
    if (!sources) return ops.map(() => ({ status: 'failed', error: 'data-source records cannot be sent here (no data source resolver)' }));
    try {
      try {
        await ctx.transport.send(bulkJob(await sources.resolve(title, ctx.transport), ops));
      } catch (err) {
        if (!(err instanceof KlaviyoError && err.status === 404)) throw err;
        // The kept id names a data source deleted since: find or create it again.
        await sources.forget(title);
        await ctx.transport.send(bulkJob(await sources.resolve(title, ctx.transport), ops));
      }
      return delivered(ops.length);
    } catch (err) {
      if (!(err instanceof AuthError && err.status === 403)) throw err;
      const error = `the Klaviyo API key lacks custom-objects:write / custom-objects:read (403: ${err.detail}); give the key those scopes (Klaviyo → Settings → API keys)`;
      return ops.map(() => ({ status: 'failed', error }));
    }
  },
};
