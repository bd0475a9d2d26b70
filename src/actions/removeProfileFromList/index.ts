import type { ActionDefinition, PlanWarning } from '../types.js';
import { email, phone_number, country_code, external_id, list_id, enable_batching, firstOf } from '../fields.js';
import { identifiers, requireOne } from '../profile.js';
import { audienceFields, listRef } from '../audience.js';

const removeProfileFromList: ActionDefinition = {
  name: 'removeProfileFromList',
  title: 'Remove Profile from List (Engage)',
  description: 'Remove a profile from a list.',
  defaultSubscription: 'event = "Audience Exited"',
  fields: {
    email: email(firstOf('$.context.traits.email', '$.properties.email')),
    phone_number: phone_number(firstOf('$.context.traits.phone', '$.properties.phone')),
    country_code,
    external_id: external_id(),
    list_id,
    ...audienceFields,
    enable_batching,
  },
  plan(p, settings) {
    const warnings: PlanWarning[] = [];
    const list = listRef(p);
    const { email: e, phone_number: ph, external_id: x } = identifiers(p, settings, warnings);
    const profile = { ...(e ? { email: e } : {}), ...(ph ? { phone_number: ph } : {}), ...(x ? { external_id: x } : {}) };
    requireOne(profile, ['email', 'phone_number', 'external_id']);
    return { operations: [{ kind: 'list.remove', list, profile }], warnings };
  },
};
export default removeProfileFromList;
