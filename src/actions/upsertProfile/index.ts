import type { ActionDefinition, PlanWarning } from '../types.js';
import { email, phone_number, country_code, external_id, list_id, enable_batching, profileAttributes, path } from '../fields.js';
import { identifiers, requireOne, attributes } from '../profile.js';
import { fitProfile } from '../limits.js';
import { FORBIDDEN_KEYS } from '../../spec/text.js';

/** Traits that become Klaviyo attributes, so they are not repeated as custom properties. */
const MAPPED_TRAITS = new Set(['email', 'phone', 'phone_number', '_kx', 'klaviyo_id', 'firstName', 'lastName', 'company', 'title', 'avatar', 'address', ...FORBIDDEN_KEYS]);

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
    anonymous_id: { label: 'Anonymous ID', description: 'Kept as the custom property anonymous_id (profile-import has no such identifier).', type: 'string', default: path('$.anonymousId') },
    _kx: { label: 'Klaviyo exchange id (_kx)', description: "Klaviyo's web-tracking identifier.", type: 'string' },
    ...profileAttributes(),
    properties: { label: 'Properties', description: 'Custom profile properties.', type: 'object', default: path('$.traits') },
    list_id: { ...list_id, description: 'The Klaviyo list to add the profile to.' },
    enable_batching,
  },
  plan(p, settings, ctx) {
    const warnings: PlanWarning[] = [];
    const { anonymous_id, ...ids } = identifiers(p, settings, warnings, { identity: ctx.identity });
    const profile = attributes(p, ids, warnings);
    requireOne(profile, ['email', 'phone_number', 'external_id', '_kx', 'id'], 'email', warnings);
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries((p.properties as Record<string, unknown>) ?? {})) if (!MAPPED_TRAITS.has(k)) props[k] = v;
    if (anonymous_id) props.anonymous_id = anonymous_id;
    if (Object.keys(props).length) profile.properties = props;
    const list = typeof p.list_id === 'string' ? { id: p.list_id } : undefined;
    return { operations: [{ kind: 'profile.upsert', profile: fitProfile(profile, warnings), ...(list ? { list } : {}) }], warnings };
  },
};
export default upsertProfile;
