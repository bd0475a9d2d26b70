import type { ActionDefinition, PlanWarning } from '../types.js';
import { consentIdentifiers, list_id, enable_batching, path } from '../fields.js';
import { consentTarget } from '../profile.js';

const subscribeProfile: ActionDefinition = {
  name: 'subscribeProfile',
  title: 'Subscribe Profile',
  description: 'Subscribe a profile to email marketing, SMS marketing, or both.',
  defaultSubscription: 'type = "track" and event = "User Subscribed"',
  fields: {
    ...consentIdentifiers(),
    list_id: { ...list_id, description: 'List to subscribe through; without one, the account default opt-in applies.' },
    custom_source: { label: 'Custom Source ($source)', description: 'Where consent came from; -59 is Segment’s.', type: 'string', default: '-59' },
    historical_import: {
      label: 'Historical Import',
      description:
        "Record consent gathered earlier (Klaviyo's historical_import): the profile is subscribed at once, skipping a list's double " +
        "opt-in and its 'Added to list' flows. Off by default, as in Segment: a double opt-in list then asks the person to confirm.",
      type: 'boolean',
      default: false,
    },
    consented_at: {
      label: 'Consented At',
      description: 'When consent was gathered; sent only with Historical Import (Klaviyo accepts it nowhere else).',
      type: 'datetime',
      default: path('$.timestamp'),
    },
    enable_batching,
  },
  plan(p, settings) {
    const warnings: PlanWarning[] = [];
    const { profile, channels } = consentTarget(p, settings, warnings);
    return {
      operations: [
        {
          kind: 'subscription.subscribe',
          channels,
          profile,
          ...(p.list_id ? { listId: String(p.list_id) } : {}),
          ...(p.historical_import === true ? { historicalImport: true as const } : {}),
          ...(p.historical_import === true && p.consented_at ? { consentedAt: new Date(p.consented_at).toISOString() } : {}),
          ...(p.custom_source !== undefined ? { customSource: String(p.custom_source) } : {}),
        },
      ],
      warnings,
    };
  },
};
export default subscribeProfile;
