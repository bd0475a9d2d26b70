import type { ActionDefinition, PlanWarning } from '../types.js';
import type { Channel } from '../../klaviyo/operations.js';
import { email, phone_number, country_code, list_id, enable_batching, firstOf } from '../fields.js';
import { identifiers, requireOne } from '../profile.js';

const unsubscribeProfile: ActionDefinition = {
  name: 'unsubscribeProfile',
  title: 'Unsubscribe Profile',
  description: 'Unsubscribe a profile from email marketing, SMS marketing, or both.',
  defaultSubscription: 'type = "track" and event = "User Unsubscribed"',
  fields: {
    email: email(firstOf('$.properties.email', '$.context.traits.email')),
    phone_number: phone_number(firstOf('$.properties.phone', '$.context.traits.phone')),
    country_code,
    list_id: { ...list_id, description: 'List to unsubscribe from; without one the profile is unsubscribed from all marketing.' },
    enable_batching,
  },
  plan(p, settings) {
    const warnings: PlanWarning[] = [];
    const { email: e, phone_number: ph } = identifiers(p, settings, warnings);
    const profile = { ...(e ? { email: e } : {}), ...(ph ? { phone_number: ph } : {}) };
    requireOne(profile, ['email', 'phone_number']);
    const channels: Channel[] = [...(e ? ['email' as const] : []), ...(ph ? ['sms' as const] : [])];
    return { operations: [{ kind: 'subscription.unsubscribe', channels, profile, ...(p.list_id ? { listId: String(p.list_id) } : {}) }], warnings };
  },
};
export default unsubscribeProfile;
