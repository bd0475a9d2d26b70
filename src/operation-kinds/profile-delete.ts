/**
 * profile.delete — POST /api/data-privacy-deletion-jobs with exactly one identifier (Klaviyo has no bulk form); an
 * external id is first resolved to Klaviyo ids, one deletion job each.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { lookupIds } from './profile-lookup.js';
import { REQUEST_BYTES, type OpOutcome, type OperationKindModule } from './types.js';

function deletionJob(identifier: { email?: string; phone_number?: string; id?: string }): KlaviyoRequest {
  const data = identifier.id
    ? { type: 'profile', id: identifier.id, attributes: {} }
    : { type: 'profile', attributes: identifier.email ? { email: identifier.email } : { phone_number: identifier.phone_number } };
  return {
    endpoint: 'requestProfileDeletion',
    method: 'POST',
    path: ENDPOINTS.requestProfileDeletion.path,
    body: { data: { type: 'data-privacy-deletion-job', attributes: { profile: { data } } } },
  };
}

export const profileDelete: OperationKindModule<'profile.delete'> = {
  kind: 'profile.delete',
  maxItems: ENDPOINTS.requestProfileDeletion.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: () => 'profile.delete',
  fillEndpoint: () => undefined,
  isolatesRefusals: true,
  async send(items, { transport }) {
    const out: OpOutcome[] = [];
    for (const { op } of items) {
      const p = op.profile;
      if (p.email || p.phone_number || p.id) {
        await transport.send(deletionJob(p));
        out.push({ status: 'delivered' });
        continue;
      }
      const ids = await lookupIds([{ external_id: p.external_id }], transport);
      for (const id of ids) await transport.send(deletionJob({ id }));
      out.push(ids.length ? { status: 'delivered' } : { status: 'delivered', note: `no Klaviyo profile has external_id ${p.external_id}` });
    }
    return out;
  },
};
