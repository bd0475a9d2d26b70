import type { ActionDefinition, PlanWarning } from '../types.js';
import { enable_batching, profileAttributes } from '../fields.js';
import { identifiers, requireOne, attributes } from '../profile.js';
import { listMemberFields, listRef } from '../audience.js';

const addProfileToList: ActionDefinition = {
  name: 'addProfileToList',
  title: 'Add Profile to List (Engage)',
  description: 'Add a profile to a list (created for the audience when needed).',
  defaultSubscription: 'event = "Audience Entered"',
  fields: {
    ...listMemberFields,
    ...profileAttributes('$.context.traits'),
    properties: { label: 'Properties', description: 'Custom profile properties.', type: 'object' },
    enable_batching,
  },
  plan(p, settings) {
    const warnings: PlanWarning[] = [];
    const list = listRef(p);
    const profile = attributes(p, identifiers(p, settings, warnings));
    delete profile.anonymous_id;
    requireOne(profile, ['email', 'phone_number', 'external_id']);
    if (p.properties) profile.properties = p.properties;
    return { operations: [{ kind: 'profile.upsert', profile, list }], warnings };
  },
};
export default addProfileToList;
