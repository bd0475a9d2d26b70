import type { ActionDefinition, PlanWarning } from '../types.js';
import { email, phone_number, country_code, external_id } from '../fields.js';
import { identifiers } from '../profile.js';
import { PayloadError } from '../types.js';

/**
 * Data-privacy deletion. Destructive, so it has no default subscription (users opt in with a trigger of their own)
 * and it deletes by the mapped identifiers only, never by ones found elsewhere in the message.
 */
const removeProfile: ActionDefinition = {
  name: 'removeProfile',
  title: 'Remove Profile',
  description: 'Request the deletion of every Klaviyo profile matching one identifier (data privacy).',
  fields: {
    email: email(),
    phone_number: phone_number(),
    country_code,
    external_id: external_id(),
    profile_id: { label: 'Klaviyo Profile ID', description: "Klaviyo's own profile id.", type: 'string' },
  },
  plan(p, settings) {
    const warnings: PlanWarning[] = [];
    const ids = identifiers({ ...p, id: p.profile_id }, settings, warnings);
    // Klaviyo takes exactly one of email, phone or Klaviyo id (docs/identity.md); an external id needs a lookup first, so a given id beats it.
    const key = (['email', 'phone_number', 'id', 'external_id'] as const).find((k) => ids[k]);
    if (!key) throw new PayloadError('email', 'one of email, phone_number, profile_id or external_id is required to delete a profile');
    return { operations: [{ kind: 'profile.delete', profile: { [key]: ids[key] } }], warnings };
  },
};
export default removeProfile;
