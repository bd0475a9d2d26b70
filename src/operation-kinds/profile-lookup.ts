/** Klaviyo profile ids by identifier: list memberships and deletions by external id need them. */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { ProfileIdentifiers } from '../klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';

export type LookupField = 'email' | 'phone_number' | 'external_id';
const FIELDS: LookupField[] = ['email', 'phone_number', 'external_id'];
/** Values per lookup request: one page of GET /api/profiles. */
export const LOOKUP_PAGE = ENDPOINTS.getProfiles.maxItems;

/** GET /api/profiles filtered by one identifier kind (≤100 values a page). */
export function getProfilesBy(field: LookupField, values: string[]): KlaviyoRequest {
  const quote = (v: string) => JSON.stringify(v);
  const filter = values.length === 1 ? `equals(${field},${quote(values[0])})` : `any(${field},[${values.map(quote).join(',')}])`;
  const qs = new URLSearchParams({ filter, 'page[size]': String(LOOKUP_PAGE), 'fields[profile]': FIELDS.join(',') });
  return { endpoint: 'getProfiles', method: 'GET', path: `${ENDPOINTS.getProfiles.path}?${qs.toString()}` };
}

/**
 * Klaviyo ids of the profiles with these identifiers (unknown ones are simply absent). Each profile is looked up by
 * its strongest identifier first (email, then phone, then external id), and by a weaker one only when the stronger
 * found nothing: one person, one id, and no lookups beyond what is needed.
 */
export async function lookupIds(profiles: Array<Pick<ProfileIdentifiers, LookupField>>, transport: KlaviyoTransport): Promise<string[]> {
  const ids = new Set<string>();
  let unresolved = profiles;
  for (const field of FIELDS) {
    const norm = (v: string) => (field === 'email' ? v.toLowerCase() : v);
    const values = [...new Set(unresolved.map((p) => p[field]).filter((v): v is string => Boolean(v)))];
    const found = new Set<string>();
    for (let i = 0; i < values.length; i += LOOKUP_PAGE) {
      const res = await transport.send(getProfilesBy(field, values.slice(i, i + LOOKUP_PAGE)));
      for (const d of res.body?.data ?? []) {
        ids.add(d.id);
        const v = d.attributes?.[field];
        if (typeof v === 'string') found.add(norm(v));
      }
    }
    unresolved = unresolved.filter((p) => !(p[field] && found.has(norm(p[field]!))));
  }
  return [...ids];
}
