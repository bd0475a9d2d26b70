/** How a profile is written inside Klaviyo requests: its resource body, its patch `meta`, and its entries in a bulk job. */
import { hasPatch, type PatchProperties, type ProfileAttributes } from '../klaviyo/operations.js';

const PROFILE_ATTRS = [
  'email',
  'phone_number',
  'external_id',
  '_kx',
  'first_name',
  'last_name',
  'organization',
  'title',
  'image',
  'locale',
  'location',
  'properties',
] as const;

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

/** `meta.patch_properties` as Klaviyo's profile resources take it (beside `attributes`), or nothing. */
export function profileMeta(patch: PatchProperties | undefined): { meta?: { patch_properties: PatchProperties } } {
  if (!hasPatch(patch)) return {};
  const p: PatchProperties = {};
  if (Object.keys(patch.append ?? {}).length) p.append = patch.append;
  if (Object.keys(patch.unappend ?? {}).length) p.unappend = patch.unappend;
  if (patch.unset?.length) p.unset = patch.unset;
  return { meta: { patch_properties: p } };
}

/** Identity of a profile inside one request: the identifiers, in a stable order. */
export function identityKey(p: ProfileAttributes): string {
  return JSON.stringify([p.id, p.email?.toLowerCase(), p.phone_number, p.external_id, p.anonymous_id, p._kx]);
}

/** Later attributes win; custom properties merge key by key. Keeps the order of upserts inside one bulk job. */
export function mergeProfiles(a: ProfileAttributes, b: ProfileAttributes): ProfileAttributes {
  const merged: ProfileAttributes = { ...a, ...b };
  if (a.properties || b.properties) merged.properties = { ...(a.properties ?? {}), ...(b.properties ?? {}) };
  if (a.location || b.location) merged.location = { ...(a.location ?? {}), ...(b.location ?? {}) };
  return merged;
}

/** One profile of a bulk job: its attributes and patch. */
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
