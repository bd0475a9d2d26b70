import type { ActionDefinition, PlanWarning } from '../types.js';
import { consentIdentifiers, list_id, enable_batching } from '../fields.js';
import { consentTarget } from '../profile.js';

const unsubscribeProfile: ActionDefinition = {
  name: 'unsubscribeProfile',
  title: 'Unsubscribe Profile',
  description: 'Unsubscribe a profile from email marketing, SMS marketing, or both.',
  defaultSubscription: 'type = "track" and event = "User Unsubscribed"',
  fields: {
    ...consentIdentifiers(),
    list_id: { ...list_id, description: 'List to unsubscribe from; without one the profile is unsubscribed from all marketing.' },
    sms_transactional: {
      label: 'Unsubscribe SMS Transactional',
      description: 'With a phone number, also withdraw SMS transactional consent (order and shipping texts), as Segment does; off: SMS marketing only.',
      type: 'boolean',
      default: true,
    },
    enable_batching,
  },
  plan(p, settings) {
    const warnings: PlanWarning[] = [];
    const { profile, channels } = consentTarget(p, settings, warnings);
    const smsTransactional = channels.includes('sms') && p.sms_transactional === true ? { smsTransactional: true as const } : {};
    return {
      operations: [{ kind: 'subscription.unsubscribe', channels, profile, ...(p.list_id ? { listId: String(p.list_id) } : {}), ...smsTransactional }],
      warnings,
    };
  },
};
export default unsubscribeProfile;
