/**
 * profile.upsert — one profile: POST /api/profile-import (L tier), and on 409 PATCH /api/profiles/{id} of the
 * profile Klaviyo names; several, or into a list: POST /api/profile-bulk-import-jobs (≤10 000, one entry per
 * profile merged in order), polled until done so the profiles Klaviyo refused fail alone. The bulk job is the only
 * list-membership endpoint that takes identifiers (add_profiles_to_list needs Klaviyo ids: a lookup per profile).
 * `meta.patch_properties` rides on every one of these shapes.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import { DuplicateProfileError } from '../klaviyo/errors.js';
import { hasPatch, type ListRef, type PatchProperties, type ProfileAttributes } from '../klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';
import { profileBody, profileEntries, profileMeta, type ProfileUpsert } from './profile-resource.js';
import { delivered, REQUEST_BYTES, type OpOutcome, type OperationKindModule, type SendContext } from './types.js';

const listKey = (l: ListRef | undefined) => (!l ? '' : 'id' in l ? `id:${l.id}` : `aud:${l.audienceKey}`);

function profileImport(u: ProfileUpsert): KlaviyoRequest {
  return { endpoint: 'createOrUpdateProfile', method: 'POST', path: ENDPOINTS.createOrUpdateProfile.path, body: { data: { ...profileBody(u.profile, false), ...profileMeta(u.patchProperties) } } };
}

function updateProfile(id: string, profile: ProfileAttributes, patch?: PatchProperties): KlaviyoRequest {
  return { endpoint: 'updateProfile', method: 'PATCH', path: `/api/profiles/${encodeURIComponent(id)}`, body: { data: { ...profileBody(profile, false), id, ...profileMeta(patch) } } };
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
 * After a 409: update the profile Klaviyo named. When the identifiers sent belong to two different profiles,
 * that update clashes too; then only the non-identifying attributes are written and the conflict is noted.
 */
async function updateDuplicate(id: string, upsert: ProfileUpsert, transport: KlaviyoTransport): Promise<string | undefined> {
  const { profile, patchProperties } = upsert;
  try {
    await transport.send(updateProfile(id, profile, patchProperties));
    return undefined;
  } catch (err) {
    if (!(err instanceof DuplicateProfileError)) throw err;
    const { email, phone_number, external_id, _kx, anonymous_id: _anon, id: _id, ...rest } = profile;
    await transport.send(updateProfile(id, rest, patchProperties));
    const ids = Object.entries({ email, phone_number, external_id, _kx }).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`);
    return `identifiers ${ids.join(', ')} belong to different Klaviyo profiles; updated ${id} without changing its identifiers`;
  }
}

/** A bulk import job: submit, wait for it to finish, then fail exactly the profiles Klaviyo reported. */
async function importProfiles(upserts: ProfileUpsert[], listId: string | undefined, ctx: SendContext): Promise<OpOutcome[]> {
  const { transport, pollIntervalMs, jobTimeoutMs } = ctx;
  const res = await transport.send(bulkImportProfiles(upserts, listId));
  const jobId: string | undefined = res.body?.data?.id;
  const out = delivered(upserts.length);
  if (!jobId) return out;
  // The request's profiles are the merged entries, in order: entry index → the upserts it carries.
  const entryItems = profileEntries(upserts).map((e) => e.from);
  const deadline = Date.now() + jobTimeoutMs;
  let job: any;
  // Polls share the job endpoints' small budget: wait before the first, then back off.
  for (let wait = pollIntervalMs; ; wait = Math.min(wait * 2, 10 * pollIntervalMs)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    job = (await transport.send({ endpoint: 'getBulkImportJob', method: 'GET', path: `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}` })).body?.data;
    const status = job?.attributes?.status;
    if (status === 'complete' || status === 'cancelled') break;
    if (Date.now() > deadline) return delivered(upserts.length, `bulk import job ${jobId} accepted; still ${status} after ${jobTimeoutMs} ms`);
  }
  if (!job?.attributes?.failed_count) return out;
  let path: string | undefined = `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}/import-errors`;
  while (path) {
    const page: any = (await transport.send({ endpoint: 'getBulkImportErrors', method: 'GET', path })).body;
    for (const e of page?.data ?? []) {
      const m = /\/profiles\/data\/(\d+)/.exec(e.attributes?.source?.pointer ?? '');
      for (const i of (m && entryItems[Number(m[1])]) || []) out[i] = { status: 'failed', error: e.attributes?.detail ?? e.attributes?.title ?? 'rejected by Klaviyo', detail: e.attributes };
    }
    const next: string | undefined = page?.links?.next;
    path = next ? next.replace(/^https?:\/\/[^/]+/, '') : undefined;
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
      try {
        await ctx.transport.send(profileImport(ops[0]));
        return delivered(1);
      } catch (err) {
        // 409: the identifiers already belong to a profile — update that profile instead.
        if (!(err instanceof DuplicateProfileError) || !err.duplicateProfileId) throw err;
        return delivered(1, await updateDuplicate(err.duplicateProfileId, ops[0], ctx.transport));
      }
    }
    return importProfiles(ops, list ? await ctx.lists.resolve(list, ctx.transport) : undefined, ctx);
  },
};
