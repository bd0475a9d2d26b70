import type { ActionDefinition, PlanWarning } from '../types.js';
import { enable_batching } from '../fields.js';
import { identifiers, requireOne } from '../profile.js';
import { listMemberFields, listRef } from '../audience.js';

const removeProfileFromList: ActionDefinition = {
  name: 'removeProfileFromList',
  title: 'Remove Profile from List (Engage)',
  description: 'Remove a profile from a list.',
  defaultSubscription: 'event = "Audience Exited"',
  fields: {
    ...listMemberFields,
    enable_batching,
  },
  plan(p, settings, ctx) {
    const warnings: PlanWarning[] = [];
    const list = listRef(p);
    const { email: e, phone_number: ph, external_id: x } = identifiers(p, settings, warnings, { identity: ctx.identity });
    const profile = { ...(e ? { email: e } : {}), ...(ph ? { phone_number: ph } : {}), ...(x ? { external_id: x } : {}) };
    requireOne(profile, ['email', 'phone_number', 'external_id'], 'email', warnings);
    return { operations: [{ kind: 'list.remove', list, profile }], warnings };
  },
};
export default removeProfileFromList;
