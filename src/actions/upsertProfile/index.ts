import type { ActionDefinition, PlanWarning } from '../types.js';
import type { PatchProperties } from '../../klaviyo/operations.js';
import { email, phone_number, country_code, external_id, list_id, enable_batching, profileAttributes, path } from '../fields.js';
import { identifiers, requireOne, attributes } from '../profile.js';
import { fitProfile } from '../limits.js';
import { FORBIDDEN_KEYS } from '../../message/text.js';

/** Traits that become Klaviyo attributes, so they are not repeated as custom properties. */
const MAPPED_TRAITS = new Set([
  'email',
  'phone',
  'phone_number',
  '_kx',
  'klaviyo_id',
  'firstName',
  'lastName',
  'company',
  'title',
  'avatar',
  'address',
  ...FORBIDDEN_KEYS,
]);
/**
 * Traits Segment's spec makes objects, mapped only as objects (`company.name` → organization, `address.*` →
 * location). Any other value (`company: "Navy"`) maps to no attribute, so it stays a custom property, as RudderStack
 * keeps it, rather than vanish.
 */
const OBJECT_TRAITS = new Set(['company', 'address']);
const isMappedTrait = (key: string, value: unknown): boolean => MAPPED_TRAITS.has(key) && (!OBJECT_TRAITS.has(key) || isObject(value));

const upsertProfile: ActionDefinition = {
  name: 'upsertProfile',
  title: 'Upsert Profile',
  description: 'Create or update a profile; optionally add it to a list.',
  defaultSubscription: 'type = "identify"',
  fields: {
    email: email(),
    phone_number: phone_number(),
    country_code,
    external_id: external_id(),
    anonymous_id: {
      label: 'Anonymous ID',
      description: 'Kept as the custom property anonymous_id (profile-import has no such identifier).',
      type: 'string',
      default: path('$.anonymousId'),
    },
    _kx: { label: 'Klaviyo exchange id (_kx)', description: "Klaviyo's web-tracking identifier.", type: 'string' },
    ...profileAttributes(),
    properties: {
      label: 'Properties',
      description:
        "Custom profile properties: the identify's custom traits and its `properties` object (Segment's " +
        'default), `properties` winning on a shared key. A property set to null is removed from the profile.',
      type: 'object',
      default: { '@merge': { objects: [path('$.traits'), path('$.properties')], direction: 'right' } },
    },
    properties_as_given: {
      label: 'Send Every Property',
      description:
        'true: every key of Properties is a custom property. false (the default): the traits this action maps to standard ' +
        'attributes (email, phone, firstName, lastName, company.name, title, avatar, address) are not repeated as custom ' +
        'properties. The compatibility presets set it: their Properties hold only what the original sends as custom properties.',
      type: 'boolean',
    },
    patch_properties: {
      label: 'Patch Properties',
      description:
        "Changes to the profile's existing custom properties (Klaviyo's meta.patch_properties): `append` / `unappend` ({property: value}) add " +
        '/ remove values of array properties, `unset` (property names) removes properties. A property named here is not also set from Properties.',
      type: 'object',
      properties: {
        append: { label: 'Append', description: 'Values to append to array properties: {property: value or values}.', type: 'object' },
        unappend: { label: 'Unappend', description: 'Values to remove from array properties: {property: value or values}.', type: 'object' },
        unset: { label: 'Unset', description: 'Names of properties to remove.', type: 'string', multiple: true },
      },
    },
    list_id: { ...list_id, description: 'The Klaviyo list to add the profile to.' },
    enable_batching,
  },
  plan(p, settings, ctx) {
    const warnings: PlanWarning[] = [];
    const { anonymous_id, ...ids } = identifiers(p, settings, warnings, { identity: ctx.identity });
    const profile = attributes(p, ids, warnings);
    requireOne(profile, ['email', 'phone_number', 'external_id', '_kx', 'id'], 'email', warnings);
    let patch = patchOf(p.patch_properties, warnings);
    const patched = new Set([...Object.keys(patch?.append ?? {}), ...Object.keys(patch?.unappend ?? {}), ...(patch?.unset ?? [])]);
    const props: Record<string, unknown> = {};
    const both: string[] = [];
    const cleared: string[] = [];
    for (const [k, v] of Object.entries((p.properties as Record<string, unknown>) ?? {})) {
      if (FORBIDDEN_KEYS.has(k) || (!p.properties_as_given && isMappedTrait(k, v))) continue;
      if (patched.has(k)) both.push(k);
      else if (v === null) cleared.push(k);
      else props[k] = v;
    }
    // A trait set to null clears the property. Klaviyo's bulk import ignores nulls, so it is sent as an unset.
    if (cleared.length) patch = { ...patch, unset: [...(patch?.unset ?? []), ...cleared] };
    // One request cannot both set and patch a property in a known order: the patch wins.
    if (both.length)
      warnings.push({ field: 'properties', message: `left out ${both.join(', ')}: patch_properties changes ${both.length > 1 ? 'them' : 'it'}` });
    if (anonymous_id) props.anonymous_id = anonymous_id;
    if (Object.keys(props).length) profile.properties = props;
    const list = typeof p.list_id === 'string' ? { id: p.list_id } : undefined;
    return {
      operations: [{ kind: 'profile.upsert', profile: fitProfile(profile, warnings), ...(list ? { list } : {}), ...(patch ? { patchProperties: patch } : {}) }],
      warnings,
    };
  },
};

const isObject = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

/**
 * The patch as Klaviyo takes it: `append` / `unappend` objects without null values, `unset` a list of names (one
 * name is accepted too). Anything else is dropped with a warning; an empty patch is no patch.
 */
export function patchOf(raw: unknown, warnings: PlanWarning[]): PatchProperties | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) {
    warnings.push({ field: 'patch_properties', message: 'dropped: patch_properties must be an object of append, unappend and unset' });
    return undefined;
  }
  const out: PatchProperties = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || v === null) continue;
    if (k === 'append' || k === 'unappend') {
      if (!isObject(v)) {
        warnings.push({ field: `patch_properties.${k}`, message: `dropped: ${k} must be an object of {property: value}` });
        continue;
      }
      const values = Object.fromEntries(Object.entries(v).filter(([name, x]) => x !== undefined && x !== null && !FORBIDDEN_KEYS.has(name)));
      if (Object.keys(values).length) out[k] = values;
    } else if (k === 'unset') {
      const names = (Array.isArray(v) ? v : [v]).filter((x) => (typeof x === 'string' && x !== '') || typeof x === 'number').map(String);
      if (names.length !== (Array.isArray(v) ? v.length : 1))
        warnings.push({ field: 'patch_properties.unset', message: 'dropped the names that are not text' });
      if (names.length) out.unset = [...new Set(names)];
    } else warnings.push({ field: `patch_properties.${k}`, message: 'dropped: patch_properties takes append, unappend and unset' });
  }
  return out.append || out.unappend || out.unset ? out : undefined;
}
export default upsertProfile;
