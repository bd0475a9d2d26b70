/**
 * Operations → Klaviyo requests (pure). Which endpoint each operation uses, and why:
 *
 * | operation                | one operation                         | several (coalesced)                                  |
 * |--------------------------|---------------------------------------|------------------------------------------------------|
 * | event.create             | POST /api/events (XL tier)            | POST /api/event-bulk-create-jobs (≤1000 events)      |
 * | event.create + patch     | meta.patch_properties on the event's profile: inside its `attributes` on POST /api/events, |
 * |                          | beside them on each profile of a bulk job (the spec's two shapes; never merged with another event of the profile) |
 * | profile.upsert           | POST /api/profile-import (L tier)     | POST /api/profile-bulk-import-jobs (≤10 000)         |
 * | profile.upsert + patch   | meta.patch_properties on each profile: profile-import, its 409 fallback PATCH /api/profiles/{id}, |
 * |                          | and each profile of a bulk import job all accept it (never merged with another upsert of the profile) |
 * | profile.upsert + list    | POST /api/profile-bulk-import-jobs with relationships.lists — the only list-membership
 * |                          | endpoint that takes identifiers (add_profiles_to_list needs Klaviyo ids: a lookup per profile) |
 * | list.remove              | GET /api/profiles?filter=any(…) to find ids, then DELETE /api/lists/{id}/relationships/profiles |
 * | subscription.subscribe   | POST /api/profile-subscription-bulk-create-jobs (≤1000; no single endpoint exists)          |
 * | subscription.unsubscribe | POST /api/profile-subscription-bulk-delete-jobs (≤100)                                      |
 * | profile.delete           | POST /api/data-privacy-deletion-jobs (one identifier; Klaviyo has no bulk form)             |
 */
import { hasPatch, type Operation, type PlannedOperation, type ProfileAttributes, type ListRef, type OperationKind, type PatchProperties } from './operations.js';
import type { KlaviyoRequest } from './request.js';
import { ENDPOINTS, type EndpointName } from './endpoints.js';
import { planWaves } from '../batcher/index.js';

type Op<K extends OperationKind> = Extract<Operation, { kind: K }>;

const PROFILE_ATTRS = ['email', 'phone_number', 'external_id', '_kx', 'first_name', 'last_name', 'organization', 'title', 'image', 'locale', 'location', 'properties'] as const;

/** Profile attributes as a given endpoint accepts them: anonymous_id only on event profiles. */
export function profileBody(p: ProfileAttributes, forEvent: boolean): { type: 'profile'; id?: string; attributes: Record<string, unknown> } {
  const attributes: Record<string, unknown> = {};
  for (const k of PROFILE_ATTRS) if (p[k] !== undefined) attributes[k] = p[k];
  if (p.anonymous_id !== undefined) {
    if (forEvent) attributes.anonymous_id = p.anonymous_id;
    else attributes.properties = { ...(p.properties ?? {}), anonymous_id: p.anonymous_id };
  }
  return { type: 'profile', ...(p.id ? { id: p.id } : {}), attributes };
}

function eventAttributes(op: Op<'event.create'>) {
  return {
    properties: op.properties,
    ...(op.time ? { time: op.time } : {}),
    ...(op.value !== undefined ? { value: op.value } : {}),
    ...(op.valueCurrency ? { value_currency: op.valueCurrency } : {}),
    unique_id: op.uniqueId,
    metric: { data: { type: 'metric', attributes: { name: op.metric } } },
  };
}

/** POST /api/events: the event profile's `meta` goes inside its `attributes` (EventProfileCreateQueryResourceObject). */
export function createEvent(op: Op<'event.create'>): KlaviyoRequest {
  const profile = profileBody(op.profile, true);
  const meta = profileMeta(op.patchProperties).meta;
  if (meta) profile.attributes.meta = meta;
  return {
    endpoint: 'createEvent',
    method: 'POST',
    path: ENDPOINTS.createEvent.path,
    body: { data: { type: 'event', attributes: { ...eventAttributes(op), profile: { data: profile } } } },
  };
}

/** Identity of a profile inside one request: the identifiers, in a stable order. */
export function identityKey(p: ProfileAttributes): string {
  return JSON.stringify([p.id, p.email?.toLowerCase(), p.phone_number, p.external_id, p.anonymous_id, p._kx]);
}

/**
 * Events of one request grouped per profile; a repeated unique_id for the same profile + metric is dropped (Klaviyo
 * would fail the whole job). An event whose profile carries patch properties is never merged with another event of
 * its profile (whether the patch applies before or after the other's properties matters): it keeps an entry of its
 * own, its `meta` beside the profile's `attributes` (OnsiteProfileCreateQueryResourceObject). The batcher never puts
 * two events of one profile in one job when either patches, so this is only a safeguard.
 */
export function bulkCreateEvents(ops: Op<'event.create'>[]): { request: KlaviyoRequest; duplicates: Op<'event.create'>[] } {
  const kept: Op<'event.create'>[] = [];
  const seen = new Set<string>();
  const duplicates: Op<'event.create'>[] = [];
  for (const op of ops) {
    const dedupe = `${identityKey(op.profile)}|${op.metric}|${op.uniqueId}`;
    if (seen.has(dedupe)) {
      duplicates.push(op);
      continue;
    }
    seen.add(dedupe);
    kept.push(op);
  }
  const data = profileEntries(kept).map((e) => ({
    type: 'event-bulk-create',
    attributes: {
      profile: { data: { ...profileBody(e.profile, true), ...profileMeta(e.patchProperties) } },
      events: { data: e.from.map((i) => ({ type: 'event', attributes: eventAttributes(kept[i]) })) },
    },
  }));
  return {
    request: { endpoint: 'bulkCreateEvents', method: 'POST', path: ENDPOINTS.bulkCreateEvents.path, body: { data: { type: 'event-bulk-create-job', attributes: { 'events-bulk-create': { data } } } } },
    duplicates,
  };
}

/** Later attributes win; custom properties merge key by key. Keeps the order of upserts inside one bulk job. */
export function mergeProfiles(a: ProfileAttributes, b: ProfileAttributes): ProfileAttributes {
  const merged: ProfileAttributes = { ...a, ...b };
  if (a.properties || b.properties) merged.properties = { ...(a.properties ?? {}), ...(b.properties ?? {}) };
  if (a.location || b.location) merged.location = { ...(a.location ?? {}), ...(b.location ?? {}) };
  return merged;
}

/** `meta.patch_properties` as Klaviyo's profile resources take it (beside `attributes`), or nothing. */
export function profileMeta(patch: PatchProperties | undefined): { meta?: { patch_properties: PatchProperties } } {
  if (!hasPatch(patch)) return {};
  const p: PatchProperties = {};
  if (Object.keys(patch.append ?? {}).length) p.append = patch.append;
  if (Object.keys(patch.unappend ?? {}).length) p.unappend = patch.unappend;
  if (patch.unset?.length) p.unset = patch.unset;
  return { meta: { patch_properties: p } };
}

export function profileImport(op: Op<'profile.upsert'>): KlaviyoRequest {
  return { endpoint: 'createOrUpdateProfile', method: 'POST', path: ENDPOINTS.createOrUpdateProfile.path, body: { data: { ...profileBody(op.profile, false), ...profileMeta(op.patchProperties) } } };
}

export function updateProfile(id: string, profile: ProfileAttributes, patch?: PatchProperties): KlaviyoRequest {
  const body = profileBody(profile, false);
  return { endpoint: 'updateProfile', method: 'PATCH', path: `/api/profiles/${encodeURIComponent(id)}`, body: { data: { ...body, id, ...profileMeta(patch) } } };
}

/** One profile of a bulk import job: its attributes and patch. */
export interface ProfileUpsert {
  profile: ProfileAttributes;
  patchProperties?: PatchProperties;
}

/**
 * The profiles of one bulk job (profile import, or events grouped by profile): one entry per distinct profile,
 * merged in order, each entry with the indexes of the items it carries. An item with patch properties is never
 * merged (whether a patch applies before or after another item's properties matters): it keeps an entry of its
 * own. The batcher never puts two items of one profile in one job when either patches, so this is only a safeguard.
 */
export function profileEntries(upserts: ProfileUpsert[]): Array<ProfileUpsert & { from: number[] }> {
  const entries: Array<ProfileUpsert & { from: number[] }> = [];
  const byKey = new Map<string, ProfileUpsert & { from: number[] }>();
  upserts.forEach((u, i) => {
    const patched = hasPatch(u.patchProperties);
    const key = identityKey(u.profile);
    const prev = patched ? undefined : byKey.get(key);
    if (prev) {
      prev.profile = mergeProfiles(prev.profile, u.profile);
      prev.from.push(i);
      return;
    }
    const entry = { profile: u.profile, ...(patched ? { patchProperties: u.patchProperties } : {}), from: [i] };
    entries.push(entry);
    // A later plain upsert must not merge into an entry whose patch would then apply after it.
    if (patched) byKey.delete(key);
    else byKey.set(key, entry);
  });
  return entries;
}

/** Several upserts (one entry per distinct profile, merged in order) in one bulk import job, optionally into one list. */
export function bulkImportProfiles(upserts: ProfileUpsert[], listId?: string): KlaviyoRequest {
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

function quote(v: string): string {
  return JSON.stringify(v);
}

/** Lookups of Klaviyo profile ids by one identifier kind (≤100 values a page). */
export function getProfilesBy(field: 'email' | 'phone_number' | 'external_id', values: string[]): KlaviyoRequest {
  const filter = values.length === 1 ? `equals(${field},${quote(values[0])})` : `any(${field},[${values.map(quote).join(',')}])`;
  const qs = new URLSearchParams({ filter, 'page[size]': '100', 'fields[profile]': 'email,phone_number,external_id' });
  return { endpoint: 'getProfiles', method: 'GET', path: `${ENDPOINTS.getProfiles.path}?${qs.toString()}` };
}

export function listRelationships(method: 'POST' | 'DELETE', listId: string, profileIds: string[]): KlaviyoRequest {
  return {
    endpoint: method === 'POST' ? 'addProfilesToList' : 'removeProfilesFromList',
    method,
    path: `/api/lists/${encodeURIComponent(listId)}/relationships/profiles`,
    body: { data: profileIds.map((id) => ({ type: 'profile', id })) },
  };
}

export function bulkSubscribe(ops: Op<'subscription.subscribe'>[]): KlaviyoRequest {
  const first = ops[0];
  const historical = Boolean(first.historicalImport || first.consentedAt);
  return {
    endpoint: 'bulkSubscribe',
    method: 'POST',
    path: ENDPOINTS.bulkSubscribe.path,
    body: {
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: {
          ...(first.customSource ? { custom_source: first.customSource } : {}),
          profiles: {
            data: ops.map((op) => {
              const params = { consent: 'SUBSCRIBED', ...(op.consentedAt ? { consented_at: op.consentedAt } : {}) };
              const subscriptions: Record<string, unknown> = {};
              if (op.channels.includes('email')) subscriptions.email = { marketing: params };
              if (op.channels.includes('sms')) subscriptions.sms = { marketing: params };
              return {
                type: 'profile',
                ...(op.profile.id ? { id: op.profile.id } : {}),
                attributes: { ...(op.profile.email ? { email: op.profile.email } : {}), ...(op.profile.phone_number ? { phone_number: op.profile.phone_number } : {}), subscriptions },
              };
            }),
          },
          // consented_at is accepted only on historical imports (which skip double opt-in, as the consent is past).
          ...(historical ? { historical_import: true } : {}),
        },
        ...(first.listId ? { relationships: { list: { data: { type: 'list', id: first.listId } } } } : {}),
      },
    },
  };
}

export function bulkUnsubscribe(ops: Op<'subscription.unsubscribe'>[]): KlaviyoRequest {
  const listId = ops[0].listId;
  return {
    endpoint: 'bulkUnsubscribe',
    method: 'POST',
    path: ENDPOINTS.bulkUnsubscribe.path,
    body: {
      data: {
        type: 'profile-subscription-bulk-delete-job',
        attributes: {
          profiles: {
            data: ops.map((op) => {
              const subscriptions: Record<string, unknown> = {};
              if (op.channels.includes('email')) subscriptions.email = { marketing: { consent: 'UNSUBSCRIBED' } };
              if (op.channels.includes('sms')) subscriptions.sms = { marketing: { consent: 'UNSUBSCRIBED' }, ...(op.smsTransactional ? { transactional: { consent: 'UNSUBSCRIBED' } } : {}) };
              return { type: 'profile', attributes: { ...(op.profile.email ? { email: op.profile.email } : {}), ...(op.profile.phone_number ? { phone_number: op.profile.phone_number } : {}), subscriptions } };
            }),
          },
        },
        ...(listId ? { relationships: { list: { data: { type: 'list', id: listId } } } } : {}),
      },
    },
  };
}

/** Exactly one identifier: email, phone_number or a Klaviyo id (an external id is resolved to an id first). */
export function deletionJob(identifier: { email?: string; phone_number?: string; id?: string }): KlaviyoRequest {
  const data = identifier.id
    ? { type: 'profile', id: identifier.id, attributes: {} }
    : { type: 'profile', attributes: identifier.email ? { email: identifier.email } : { phone_number: identifier.phone_number } };
  return {
    endpoint: 'requestProfileDeletion',
    method: 'POST',
    path: ENDPOINTS.requestProfileDeletion.path,
    body: { data: { type: 'data-privacy-deletion-job', attributes: { profile: { data } } } },
  };
}

export function getListsByName(name: string): KlaviyoRequest {
  const qs = new URLSearchParams({ filter: `equals(name,${quote(name)})` });
  return { endpoint: 'getLists', method: 'GET', path: `${ENDPOINTS.getLists.path}?${qs.toString()}` };
}

export function getList(id: string): KlaviyoRequest {
  return { endpoint: 'getList', method: 'GET', path: `/api/lists/${encodeURIComponent(id)}` };
}

export function createList(name: string): KlaviyoRequest {
  return { endpoint: 'createList', method: 'POST', path: ENDPOINTS.createList.path, body: { data: { type: 'list', attributes: { name } } } };
}

/** Placeholder text for ids only known at delivery time (preview). */
export function listPlaceholder(ref: ListRef): string {
  return 'id' in ref ? ref.id : `<list id of audience ${ref.audienceKey}>`;
}

export interface RenderedRequest extends KlaviyoRequest {
  messageIds: string[];
}

/**
 * The requests a set of operations becomes, as `preview` shows them: coalesced like delivery does,
 * with ids that only exist at delivery time (audience lists, profiles to remove) as placeholders.
 */
export function renderAll(planned: PlannedOperation[]): RenderedRequest[] {
  const out: RenderedRequest[] = [];
  for (const wave of planWaves(planned)) for (const batch of wave) out.push(...renderBatch(batch.items));
  return out;
}

/** Requests for one batch (same kind and group), placeholders for ids resolved at delivery. */
export function renderBatch(items: PlannedOperation[]): RenderedRequest[] {
  const ids = (xs: PlannedOperation[]) => [...new Set(xs.map((x) => x.messageId))];
  const kind = items[0].op.kind;
  const ops = items.map((i) => i.op);
  switch (kind) {
    case 'event.create':
      if (ops.length === 1) return [{ ...createEvent(ops[0] as Op<'event.create'>), messageIds: ids(items) }];
      return [{ ...bulkCreateEvents(ops as Op<'event.create'>[]).request, messageIds: ids(items) }];
    case 'profile.upsert': {
      const list = (ops[0] as Op<'profile.upsert'>).list;
      if (!list && ops.length === 1) return [{ ...profileImport(ops[0] as Op<'profile.upsert'>), messageIds: ids(items) }];
      return [{ ...bulkImportProfiles(ops as Op<'profile.upsert'>[], list ? listPlaceholder(list) : undefined), messageIds: ids(items) }];
    }
    case 'list.remove': {
      const list = (ops[0] as Op<'list.remove'>).list;
      const out: RenderedRequest[] = [];
      const placeholders: string[] = [];
      for (const field of ['email', 'phone_number', 'external_id'] as const) {
        const vals = [...new Set((ops as Op<'list.remove'>[]).map((o) => o.profile[field]).filter((v): v is string => Boolean(v)))];
        if (vals.length) out.push({ ...getProfilesBy(field, vals), messageIds: ids(items) });
        placeholders.push(...vals.map((v) => `<profile id of ${field} ${v}>`));
      }
      out.push({ ...listRelationships('DELETE', listPlaceholder(list), placeholders), messageIds: ids(items) });
      return out;
    }
    case 'subscription.subscribe':
      return [{ ...bulkSubscribe(ops as Op<'subscription.subscribe'>[]), messageIds: ids(items) }];
    case 'subscription.unsubscribe':
      return [{ ...bulkUnsubscribe(ops as Op<'subscription.unsubscribe'>[]), messageIds: ids(items) }];
    case 'profile.delete':
      return items.flatMap((item) => {
        const p = (item.op as Op<'profile.delete'>).profile;
        if (p.email || p.phone_number || p.id) return [{ ...deletionJob(p), messageIds: [item.messageId] }];
        return [
          { ...getProfilesBy('external_id', [p.external_id!]), messageIds: [item.messageId] },
          { ...deletionJob({ id: `<profile id of external_id ${p.external_id}>` }), messageIds: [item.messageId] },
        ];
      });
  }
}

/** The endpoint a batch of this kind and size is sent to (the batcher splits by its limits). */
export function endpointOf(op: Operation, count: number): EndpointName {
  switch (op.kind) {
    case 'event.create':
      return count > 1 ? 'bulkCreateEvents' : 'createEvent';
    case 'profile.upsert':
      return op.list || count > 1 ? 'bulkImportProfiles' : 'createOrUpdateProfile';
    case 'list.remove':
      return 'removeProfilesFromList';
    case 'subscription.subscribe':
      return 'bulkSubscribe';
    case 'subscription.unsubscribe':
      return 'bulkUnsubscribe';
    case 'profile.delete':
      return 'requestProfileDeletion';
  }
}
