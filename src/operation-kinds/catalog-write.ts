/**
 * catalog.write — catalog items, variants and categories by bulk job: POST /api/catalog-{resource}-bulk-{change}-jobs
 * (L tier, ≤100 a job), one group per resource and change, polled until done so the rows Klaviyo refused fail
 * alone with its words (the job's `errors`, pointing at `/data/attributes/<resources>/data/<n>`). A key without
 * catalogs:write fails these operations alone (OPTIONAL_SCOPE_ENDPOINTS): live delivery goes on.
 */
import { ENDPOINTS, type EndpointName } from '../klaviyo/endpoints.js';
import { AuthError } from '../klaviyo/errors.js';
import { catalogId, type CatalogResource } from '../klaviyo/operations.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { delivered, REQUEST_BYTES, type Op, type OpOutcome, type OperationKindModule, type SendContext } from './types.js';

type CatalogOp = Op<'catalog.write'>;
const PLURAL: Record<CatalogResource, string> = { item: 'items', variant: 'variants', category: 'categories' };
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
const endpointOf = (op: Pick<CatalogOp, 'resource' | 'change'>) => `catalog${cap(op.resource)}Bulk${cap(op.change)}` as EndpointName;

function resourceObject(op: CatalogOp): Record<string, unknown> {
  const type = `catalog-${op.resource}`;
  if (op.change === 'delete') return { type, id: catalogId(op.externalId) };
  const relationships = op.item
    ? { item: { data: { type: 'catalog-item', id: catalogId(op.item) } } }
    : op.categories
      ? { categories: { data: op.categories.map((c) => ({ type: 'catalog-category', id: catalogId(c) })) } }
      : undefined;
  // A variant names its item on create only: the update schema has no item relationship.
  const rel = relationships && !(op.change === 'update' && op.item) ? { relationships } : {};
  return op.change === 'create'
    ? { type, attributes: { external_id: op.externalId, ...op.attributes }, ...rel }
    : { type, id: catalogId(op.externalId), attributes: { ...op.attributes }, ...rel };
}

function bulkJob(ops: CatalogOp[]): KlaviyoRequest {
  const { resource, change } = ops[0];
  const endpoint = endpointOf(ops[0]);
  return {
    endpoint,
    method: 'POST',
    path: ENDPOINTS[endpoint].path,
    body: { data: { type: `catalog-${resource}-bulk-${change}-job`, attributes: { [PLURAL[resource]]: { data: ops.map(resourceObject) } } } },
  };
}

/** Submit the job, wait for it (backing off), then fail exactly the rows it reports. */
async function runJob(ops: CatalogOp[], ctx: SendContext): Promise<OpOutcome[]> {
  const req = bulkJob(ops);
  const jobId: string | undefined = (await ctx.transport.send(req)).body?.data?.id;
  const out = delivered(ops.length);
  if (!jobId) return out;
  const poll = `get${cap(req.endpoint)}Job` as EndpointName;
  const deadline = Date.now() + ctx.jobTimeoutMs;
  for (let wait = ctx.pollIntervalMs; ; wait = Math.min(wait * 2, 10 * ctx.pollIntervalMs)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    const job = (await ctx.transport.send({ endpoint: poll, method: 'GET', path: `${req.path}/${encodeURIComponent(jobId)}` })).body?.data?.attributes;
    if (job?.status === 'complete' || job?.status === 'cancelled') {
      for (const e of job.errors ?? []) {
        const m = /\/data\/(\d+)/.exec(e.source?.pointer ?? '');
        if (m && out[Number(m[1])]) out[Number(m[1])] = { status: 'failed', error: e.detail ?? e.title ?? 'rejected by Klaviyo', detail: e };
      }
      return out;
    }
    if (Date.now() > deadline) return delivered(ops.length, `catalog job ${jobId} accepted; still ${job?.status} after ${ctx.jobTimeoutMs} ms`);
  }
}

export const catalogWrite: OperationKindModule<'catalog.write'> = {
  kind: 'catalog.write',
  maxItems: ENDPOINTS.catalogItemBulkCreate.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: (op) => `catalog.write|${op.resource}|${op.change}`,
  fillEndpoint: (ops) => endpointOf(ops[0]),
  isolatesRefusals: true,
  async send(items, ctx) {
    try {
      return await runJob(
        items.map((i) => i.op),
        ctx,
      );
    } catch (err) {
      if (!(err instanceof AuthError && err.status === 403)) throw err;
      const error = `the Klaviyo API key lacks catalogs:write (403: ${err.detail}); give the key that scope (Klaviyo → Settings → API keys)`;
      return items.map(() => ({ status: 'failed', error }));
    }
  },
};
