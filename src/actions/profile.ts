/** Turning mapped payloads into Klaviyo profile attributes (pure). */
import type { Channel, Location, ProfileAttributes } from '../klaviyo/operations.js';
import { PayloadError, type DestinationSettings, type PlanWarning } from './types.js';
import { IDENTIFIER_ORDER, normaliseEmail, normalisePhone, type Identifier, type Identity } from './identity.js';

function identifier(key: Identifier, value: unknown, from: string, countries: unknown[], warnings: PlanWarning[]): string | undefined {
  if (key === 'email') return normaliseEmail(value, warnings, from);
  if (key === 'phone_number') return normalisePhone(value, countries, warnings, from);
  if (typeof value === 'string' || typeof value === 'number') return String(value); // as sent: ids are opaque
  warnings.push({ field: from, message: `dropped: ${key} must be text or a number, got ${Array.isArray(value) ? 'an array' : typeof value}` });
  return undefined;
}

/** Each identifier's field name under a prefix (`profile.email`), made once per prefix. */
const namesByPrefix = new Map<string, Record<Identifier, string>>();
function fieldNames(prefix: string): Record<Identifier, string> {
  let names = namesByPrefix.get(prefix);
  if (!names) namesByPrefix.set(prefix, (names = Object.fromEntries(IDENTIFIER_ORDER.map((k) => [k, `${prefix}${k}`])) as Record<Identifier, string>));
  return names;
}

const valueKey = (v: unknown) => (typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * The profile's identifiers: each mapped value first, then (with `identity`) the message's own candidates in
 * the documented order (docs/identity.md). An invalid candidate is dropped with a warning and the next one tried.
 */
export function identifiers(
  p: Record<string, any>,
  settings: DestinationSettings,
  warnings: PlanWarning[],
  opts: { prefix?: string; identity?: Identity; countryCode?: unknown } = {},
): ProfileAttributes {
  const { prefix = '', identity } = opts;
  const names = fieldNames(prefix);
  let countries: unknown[] | undefined; // only phone numbers need them
  const out: ProfileAttributes = {};
  for (const key of IDENTIFIER_ORDER) {
    const found = identity?.ids[key];
    const m = p[key];
    const mapped = m !== undefined && m !== '';
    if (!mapped && !found) continue;
    // The profile's own address country is a hint too: a warehouse row's `country` column lands there.
    countries ??= [
      'countryCode' in opts ? opts.countryCode : p.country_code,
      p.location?.country,
      ...(identity?.countries ?? []).map((c) => c.value),
      settings.defaultCountry,
    ];
    let dropped: string[] | undefined; // values already tried and dropped
    // The mapped value (index -1), then the message's own candidates.
    for (let i = mapped ? -1 : 0; i < (found?.length ?? 0); i++) {
      const value = i < 0 ? m : found![i].value;
      if (dropped?.includes(valueKey(value))) continue; // the same value from two sources: one warning is enough
      const v = identifier(key, value, i < 0 ? names[key] : found![i].from, countries, warnings);
      if (v) {
        out[key] = v;
        break;
      }
      (dropped ??= []).push(valueKey(value));
    }
  }
  return out;
}

/** Throws when none of the given identifiers is present, repeating why candidates were dropped (the warnings). */
export function requireOne(profile: ProfileAttributes, keys: readonly (keyof ProfileAttributes)[], field = 'email', warnings: PlanWarning[] = []): void {
  if (keys.some((k) => profile[k])) return;
  const why = warnings.length ? ` (${warnings.map((w) => `${w.field}: ${w.message}`).join('; ')})` : '';
  throw new PayloadError(field, `a valid ${keys.join(', ')} is required to identify the profile${why}`);
}

const LOCATION_KEYS = new Set(['address1', 'address2', 'city', 'country', 'region', 'zip', 'timezone', 'ip', 'latitude', 'longitude']);

/** Klaviyo's location: its own keys only, text values (coordinates may stay numbers); anything else dropped with a warning. */
export function location(raw: unknown, warnings: PlanWarning[] = [], field = 'location'): Location | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const l: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || v === null || v === '') continue;
    if (!LOCATION_KEYS.has(k) || (typeof v !== 'string' && typeof v !== 'number')) dropped.push(k);
    else l[k] = typeof v === 'number' && k !== 'latitude' && k !== 'longitude' ? String(v) : v;
  }
  if (dropped.length)
    warnings.push({ field, message: `dropped ${dropped.join(', ')}: Klaviyo's location takes text values for ${[...LOCATION_KEYS].join(', ')}` });
  return Object.keys(l).length ? (l as Location) : undefined;
}

const ATTRIBUTE_KEYS = ['first_name', 'last_name', 'organization', 'title', 'image', 'locale'] as const;

/** Klaviyo's standard profile attributes from the payload; each must be text (numbers are kept as their text). */
export function attributes(p: Record<string, any>, target: ProfileAttributes, warnings: PlanWarning[] = [], prefix = ''): ProfileAttributes {
  for (const k of ATTRIBUTE_KEYS) {
    const v = p[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') target[k] = String(v);
    else if (v !== undefined && v !== null)
      warnings.push({ field: `${prefix}${k}`, message: `dropped: ${k} must be text, got ${Array.isArray(v) ? 'an array' : typeof v}` });
  }
  const loc = location(p.location, warnings, `${prefix}location`);
  if (loc) target.location = loc;
  return target;
}

/** Consent actions: the email and/or phone present, and the channels they name. */
export function consentTarget(
  p: Record<string, any>,
  settings: DestinationSettings,
  warnings: PlanWarning[],
): { profile: { email?: string; phone_number?: string }; channels: Channel[] } {
  const { email, phone_number } = identifiers(p, settings, warnings);
  const profile = { ...(email ? { email } : {}), ...(phone_number ? { phone_number } : {}) };
  requireOne(profile, ['email', 'phone_number'], 'email', warnings);
  return { profile, channels: [...(email ? ['email' as const] : []), ...(phone_number ? ['sms' as const] : [])] };
}
