/**
 * profile.upsert — one profile: POST /api/profile-import (L tier), on a 409 (an identity conflict) again without
 * the weakest identifier (./identity-conflict.ts); several, or into a list: POST /api/profile-bulk-import-jobs (≤10 000, one entry per
 * profile merged in order), polled until done so the profiles Klaviyo refused fail alone. The bulk job is the only
 * list-membership endpoint that takes identifiers (add_profiles_to_list needs Klaviyo ids: a lookup per profile).
 * `meta.patch_properties` rides on every one of these shapes.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import { DuplicateProfileError, PermanentError } from '../klaviyo/errors.js';
import { hasPatch, listKey } from '../klaviyo/operations.js';
import { pages } from '../klaviyo/pages.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';
import { profileBody, profileEntries, profileMeta, type ProfileUpsert } from './profile-resource.js';
import { delivered, REQUEST_BYTES, type OpOutcome, type OperationKindModule, type SendContext } from './types.js';
import { conflictNote, isConflict, withoutWeakest } from './identity-conflict.js';

function profileImport(u: ProfileUpsert): KlaviyoRequest {
  return {
    endpoint: 'createOrUpdateProfile',
    method: 'POST',
    path: ENDPOINTS.createOrUpdateProfile.path,
    body: { data: { ...profileBody(u.profile, false), ...profileMeta(u.patchProperties) } },
  };
}

function bulkImportProfiles(upserts: ProfileUpsert[], listId?: string): KlaviyoRequest {
  return {
    endpoint: 'bulkImportProfiles',
    method: 'POST',
    path: ENDPOINTS.bulkImportProfiles.path,
    body: {
      data: {
        type: 'profile-bulk-import-job',
        attributes: { profiles: { data: profileEntries(upserts).map((e) => ({ ...profileBody(e.profile, false), ...profileMeta(e.patchProperties) })) } },
        ...(listId ? { relationships: { lists: { data: [{ type: 'list', id: listId }] } } } : {}),
      },
    },
  };
}

/**
 * One profile-import; on a 409 (identifiers of two profiles: docs/identity.md) again without the weakest
 * identifier, until Klaviyo takes it. Never a PATCH of the profile Klaviyo names: that is another person's.
 */
async function importAroundConflicts(upsert: ProfileUpsert, transport: KlaviyoTransport): Promise<OpOutcome> {
  const left: string[] = [];
  for (let current = upsert; ; ) {
    try {
      await transport.send(profileImport(current));
      return left.length ? { status: 'delivered', note: conflictNote(current.profile, left) } : { status: 'delivered' };
    } catch (err) {
      if (!(err instanceof DuplicateProfileError)) throw err;
      const next = withoutWeakest(current.profile, err.duplicateProfileId);
      if (!next) return { status: 'failed', error: `identity conflict Klaviyo would not resolve: ${err.detail}`, detail: err.errors };
      left.push(next.left);
      current = { ...current, profile: next.profile };
    }
  }
}

/**
 * A bulk import job: submit, wait for it to finish, then fail exactly the profiles Klaviyo reported. Profiles it
 * failed for an identifier conflict go into another job without their weakest identifier (as importAroundConflicts
 * does; `left` says what each has lost so far), so a job of a warehouse table with shared phones delivers every row.
 * `index` names each upsert's place in the group the kind was given (what `jobCreated` reports).
 */
async function importProfiles(
  upserts: ProfileUpsert[],
  listId: string | undefined,
  ctx: SendContext,
  left: string[][] = upserts.map(() => []),
  index: number[] = upserts.map((_, i) => i),
): Promise<OpOutcome[]> {
  const res = await ctx.transport.send(bulkImportProfiles(upserts, listId));
  const jobId: string | undefined = res.body?.data?.id;
  // The request's profiles are the merged entries, in order: entry index → the upserts it carries.
  const entryItems = profileEntries(upserts).map((e) => e.from);
  // Created: Klaviyo takes later requests for these profiles after it, so they need not wait for the job to finish.
  ctx.jobCreated?.(jobId ? { id: jobId, carried: carriedBy(entryItems, index) } : undefined);
  if (!jobId) return delivered(upserts.length);
  const out = await awaitImportJob(jobId, entryItems, upserts.length, ctx);
  return reimportConflicts(upserts, out, listId, ctx, left, index);
}

/** Entry index → upsert indexes, turned into each upsert's entries, named by its place in the group. */
function carriedBy(entryItems: number[][], index: number[]): Array<{ item: number; entries: number[] }> {
  const entries = new Map<number, number[]>();
  entryItems.forEach((items, e) => {
    for (const i of items) entries.set(index[i], [...(entries.get(index[i]) ?? []), e]);
  });
  return [...entries].map(([item, es]) => ({ item, entries: es }));
}

/** After a job: profiles it refused for an identity conflict go into a new job without their weakest identifier. */
async function reimportConflicts(
  upserts: ProfileUpsert[],
  out: OpOutcome[],
  listId: string | undefined,
  ctx: SendContext,
  left: string[][],
  index: number[],
): Promise<OpOutcome[]> {
  const again: Array<{ i: number; upsert: ProfileUpsert; left: string[] }> = [];
  out.forEach((o, i) => {
    if (o.status === 'delivered' && left[i].length) out[i] = { status: 'delivered', note: conflictNote(upserts[i].profile, left[i]) };
    const e = o.status === 'failed' ? (o.detail as { code?: string; detail?: string; meta?: { duplicate_profile_id?: string } } | undefined) : undefined;
    const next = e && isConflict(e) ? withoutWeakest(upserts[i].profile, e.meta?.duplicate_profile_id) : undefined;
    if (next) again.push({ i, upsert: { ...upserts[i], profile: next.profile }, left: [...left[i], next.left] });
  });
  if (!again.length) return out;
  const retried = await importProfiles(
    again.map((a) => a.upsert),
    listId,
    ctx,
    again.map((a) => a.left),
    again.map((a) => index[a.i]),
  );
  again.forEach((a, j) => (out[a.i] = retried[j]));
  return out;
}

/**
 * Poll a created job until it is done, then read its errors: one outcome per upsert (`entryItems`: entry index →
 * the upserts it carries; `n` upserts).
 */
async function awaitImportJob(jobId: string, entryItems: number[][], n: number, ctx: SendContext): Promise<OpOutcome[]> {
  const { transport, pollIntervalMs, jobTimeoutMs } = ctx;
  const out = delivered(n);
  const deadline = Date.now() + jobTimeoutMs;
  let job: any;
  // Polls share the job endpoints' small budget: wait before the first, then back off.
  for (let wait = pollIntervalMs; ; wait = Math.min(wait * 2, 10 * pollIntervalMs)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    job = (await transport.send({ endpoint: 'getBulkImportJob', method: 'GET', path: `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}` })).body
      ?.data;
    const status = job?.attributes?.status;
    if (status === 'complete' || status === 'cancelled') break;
    if (Date.now() > deadline) return delivered(n, `bulk import job ${jobId} accepted; still ${status} after ${jobTimeoutMs} ms`);
  }
  if (!job?.attributes?.failed_count) return out;
  // Paged (`links.next`): every page is read, or a profile refused on a later page would count as delivered.
  const firstPath = `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}/import-errors?page%5Bsize%5D=100`;
  for await (const page of pages(transport, 'getBulkImportErrors', firstPath))
    for (const e of page?.data ?? []) {
      const m = /\/profiles\/data\/(\d+)/.exec(e.attributes?.source?.pointer ?? '');
      for (const i of (m && entryItems[Number(m[1])]) || [])
        out[i] = { status: 'failed', error: e.attributes?.detail ?? e.attributes?.title ?? 'rejected by Klaviyo', detail: e.attributes };
    }
  return out;
}

export const profileUpsert: OperationKindModule<'profile.upsert'> = {
  kind: 'profile.upsert',
  maxItems: ENDPOINTS.bulkImportProfiles.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: (op) => `profile.upsert|${listKey(op.list)}`,
  standsAlone: (op) => hasPatch(op.patchProperties),
  fillEndpoint: (ops) => (ops[0].list || ops.length > 1 ? 'bulkImportProfiles' : undefined),
  isolatesRefusals: true,
  async send(items, ctx) {
    const ops = items.map((i) => i.op);
    const list = ops[0].list;
    if (!list && ops.length === 1) {
      return [await importAroundConflicts(ops[0], ctx.transport)];
    }
    return importProfiles(ops, list ? await ctx.lists.resolve(list, ctx.transport) : undefined, ctx);
  },
  async resume(items, job, ctx) {
    const ops = items.map((i) => i.op);
    const entryItems: number[][] = [];
    job.entries.forEach((entries, i) => {
      for (const e of entries) (entryItems[e] ??= []).push(i);
    });
    let out: OpOutcome[];
    try {
      out = await awaitImportJob(job.id, entryItems, ops.length, ctx);
    } catch (err) {
      // Klaviyo no longer knows the job (expired, another account): import the profiles again.
      if (err instanceof PermanentError && err.status === 404) return this.send(items, ctx);
      throw err;
    }
    const list = ops[0].list;
    const listId = list && out.some((o) => o.status === 'failed') ? await ctx.lists.resolve(list, ctx.transport) : undefined;
    return reimportConflicts(
      ops,
      out,
      listId,
      ctx,
      ops.map(() => []),
      ops.map((_, i) => i),
    );
  },
};
