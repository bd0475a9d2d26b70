import type { ActionDefinition, PlanWarning } from '../types.js';
import { email, phone_number, country_code, external_id, list_id, enable_batching, profileAttributes, firstOf, path } from '../fields.js';
import { identifiers, requireOne, attributes } from '../profile.js';
import { audienceFields, listRef } from '../audience.js';

const addProfileToList: ActionDefinition = {
  name: 'addProfileToList',
  title: 'Add Profile to List (Engage)',
  description: 'Add a profile to a list (created for the audience when needed).',
  defaultSubscription: 'event = "Audience Entered"',
  fields: {
    email: email(firstOf('$.context.traits.email', '$.properties.email')),
    phone_number: phone_number(firstOf('$.context.traits.phone', '$.properties.phone')),
    country_code,
    external_id: external_id(),
    list_id,
    ...audienceFields,
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
void path;
