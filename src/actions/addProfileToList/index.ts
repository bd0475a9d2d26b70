import type { ActionDefinition, PlanWarning } from '../types.js';
import { enable_batching, profileAttributes, path } from '../fields.js';
import { identifiers, requireOne, attributes } from '../profile.js';
import { fitProfile } from '../limits.js';
import { listMemberFields, listRef } from '../audience.js';

const addProfileToList: ActionDefinition = {
  name: 'addProfileToList',
  title: 'Add Profile to List (Engage)',
  description: 'Add a profile to a list (created for the audience when needed).',
  defaultSubscription: 'event = "Audience Entered"',
  fields: {
    ...listMemberFields,
    // Segment reads an audience event's profile fields from $.properties; the user's context traits fill the rest.
    ...profileAttributes('$.properties', '$.context.traits'),
    properties: { label: 'Properties', description: 'Custom profile properties.', type: 'object', default: path('$.properties.properties') },
    enable_batching,
  },
  plan(p, settings, ctx) {
    const warnings: PlanWarning[] = [];
    const list = listRef(p);
    const profile = attributes(p, identifiers(p, settings, warnings, { identity: ctx.identity }), warnings);
    delete profile.anonymous_id;
    requireOne(profile, ['email', 'phone_number', 'external_id'], 'email', warnings);
    if (p.properties) profile.properties = p.properties;
    return { operations: [{ kind: 'profile.upsert', profile: fitProfile(profile, warnings), list }], warnings };
  },
};
export default addProfileToList;
