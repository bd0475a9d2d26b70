/** Turning mapped payloads into Klaviyo profile attributes (pure). */
import type { Channel, Location, ProfileAttributes } from '../klaviyo/operations.js';
import { PayloadError, type DestinationSettings, type PlanWarning } from './types.js';
import { normaliseEmail, normalisePhone } from './identity.js';

export function identifiers(p: Record<string, any>, settings: DestinationSettings, warnings: PlanWarning[], prefix = ''): ProfileAttributes {
  const out: ProfileAttributes = {};
  const email = normaliseEmail(p.email, warnings, `${prefix}email`);
  if (email) out.email = email;
  const phone = normalisePhone(p.phone_number, p.country_code, settings, warnings, `${prefix}phone_number`);
  if (phone) out.phone_number = phone;
  for (const k of ['external_id', 'anonymous_id', '_kx', 'id'] as const) if (p[k] !== undefined && p[k] !== '') out[k] = String(p[k]);
  return out;
}

/** Throws when none of the given identifiers is present. */
export function requireOne(profile: ProfileAttributes, keys: (keyof ProfileAttributes)[], field = 'email'): void {
  if (!keys.some((k) => profile[k])) throw new PayloadError(field, `a valid ${keys.join(', ')} is required to identify the profile`);
}

export function location(raw: unknown): Location | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const l: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== null && v !== '') l[k] = typeof v === 'number' && k !== 'latitude' && k !== 'longitude' ? String(v) : v;
  return Object.keys(l).length ? (l as Location) : undefined;
}

export function attributes(p: Record<string, any>, target: ProfileAttributes): ProfileAttributes {
  for (const k of ['first_name', 'last_name', 'organization', 'title', 'image', 'locale'] as const) if (p[k] !== undefined) target[k] = String(p[k]);
  const loc = location(p.location);
  if (loc) target.location = loc;
  return target;
}

/** Consent actions: the email and/or phone present, and the channels they name. */
export function consentTarget(p: Record<string, any>, settings: DestinationSettings, warnings: PlanWarning[]): { profile: { email?: string; phone_number?: string }; channels: Channel[] } {
  const { email, phone_number } = identifiers(p, settings, warnings);
  const profile = { ...(email ? { email } : {}), ...(phone_number ? { phone_number } : {}) };
  requireOne(profile, ['email', 'phone_number']);
  return { profile, channels: [...(email ? ['email' as const] : []), ...(phone_number ? ['sms' as const] : [])] };
}
