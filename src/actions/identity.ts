/**
 * Who a message is about (pure): identifiers found in the message by one documented order (docs/identity.md),
 * and identifier hygiene shared by every action — E.164 phones, trimmed emails; bad values dropped with a warning.
 */
import { getCountries, isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { PlanWarning } from './types.js';
import { BoundedCache } from './bounded-cache.js';

export type Identifier = 'email' | 'phone_number' | 'external_id' | 'anonymous_id' | '_kx' | 'id';

/** Precedence of identifiers: where only one can be sent (deletion), the first present wins. */
export const IDENTIFIER_ORDER: readonly Identifier[] = ['email', 'phone_number', 'external_id', 'anonymous_id', '_kx', 'id'];

/** Where each identifier is looked for: a top-level message field, trait/property keys, context.externalIds types. */
const SOURCES: Record<Identifier, { top?: string; keys: string[]; types: string[] }> = {
  email: { keys: ['email'], types: ['email'] },
  phone_number: { keys: ['phone', 'phone_number'], types: ['phone', 'phone_number'] },
  external_id: { top: 'userId', keys: [], types: ['external_id'] },
  anonymous_id: { top: 'anonymousId', keys: [], types: ['anonymous_id'] },
  _kx: { keys: ['_kx'], types: ['_kx'] },
  id: { keys: ['klaviyo_id'], types: ['klaviyo_id', 'klaviyo_profile_id'] },
};

/** A value found in the message and the path it came from (named in warnings). */
export interface Found {
  value: unknown;
  from: string;
}

/** Every candidate for each identifier, best first, and the country hints for phone numbers. */
export interface Identity {
  ids: Partial<Record<Identifier, Found[]>>;
  countries: Found[];
}

const obj = (v: unknown): Record<string, any> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : undefined);
const present = (v: unknown) => v !== undefined && v !== null && v !== '';

/**
 * Identifiers by source: the message field (userId, anonymousId), then `traits`, `context.traits`,
 * `context.externalIds` (by type) and `properties`. A group call's traits describe the group, not the user.
 */
export function resolveIdentity(message: Record<string, any>): Identity {
  const ctx = obj(message.context);
  const bags: [string, Record<string, any> | undefined][] = [
    ['traits', message.type === 'group' ? undefined : obj(message.traits)],
    ['context.traits', obj(ctx?.traits)],
  ];
  const externalIds = Array.isArray(ctx?.externalIds) ? (ctx.externalIds as unknown[]).map(obj) : [];
  const props = obj(message.properties);
  const ids: Identity['ids'] = {};
  for (const key of IDENTIFIER_ORDER) {
    const { top, keys, types } = SOURCES[key];
    let found: Found[] | undefined; // made only for an identifier the message has
    if (top && present(message[top])) (found ??= []).push({ value: message[top], from: top });
    for (const [name, bag] of bags) for (const k of keys) if (present(bag?.[k])) (found ??= []).push({ value: bag![k], from: `${name}.${k}` });
    for (let i = 0; i < externalIds.length; i++) {
      const x = externalIds[i];
      if (x && types.includes(String(x.type).toLowerCase()) && present(x.id)) (found ??= []).push({ value: x.id, from: `context.externalIds[${i}]` });
    }
    for (const k of keys) if (present(props?.[k])) (found ??= []).push({ value: props![k], from: `properties.${k}` });
    if (found) ids[key] = found;
  }
  const countries: Found[] = [];
  for (const [name, bag] of bags) if (present(obj(bag?.address)?.country)) countries.push({ value: bag!.address.country, from: `${name}.address.country` });
  if (present(obj(ctx?.location)?.country)) countries.push({ value: ctx!.location.country, from: 'context.location.country' });
  return { ids, countries };
}

const EMAIL_LOCAL = /^(?!\.)(?!.*\.\.)[^\s@"(),:;<>[\]\\]{1,64}(?<!\.)$/u;
const EMAIL_DOMAIN = /^(?:(?!-)[\p{L}\p{N}-]{1,63}(?<!-)\.)+\p{L}{2,63}$/u;
/** Klaviyo's limit for `email`. */
export const MAX_EMAIL = 100;

/** Trimmed, `mailto:` removed, domain lower-cased (Klaviyo matches it case-insensitively); undefined + warning when invalid. */
export function normaliseEmail(raw: unknown, warnings: PlanWarning[], field = 'email'): string | undefined {
  if (!present(raw)) return undefined;
  const text = typeof raw === 'string' ? raw.trim().replace(/^mailto:/i, '') : '';
  const at = text.lastIndexOf('@');
  const email = at > 0 ? text.slice(0, at) + text.slice(at).toLowerCase() : text;
  if (at > 0 && EMAIL_LOCAL.test(email.slice(0, at)) && EMAIL_DOMAIN.test(email.slice(at + 1)) && email.length <= MAX_EMAIL) return email;
  const why =
    typeof raw !== 'string'
      ? `it is ${typeof raw}, not text`
      : email.length > MAX_EMAIL
        ? `longer than Klaviyo's ${MAX_EMAIL} characters`
        : 'not a valid email address (expected name@example.com)';
  warnings.push({ field, message: `dropped ${JSON.stringify(raw)}: ${why}` });
  return undefined;
}

let countryNames: Map<string, CountryCode> | undefined;
const ALIASES: Record<string, CountryCode> = { UK: 'GB', USA: 'US', 'UNITED STATES OF AMERICA': 'US', 'GREAT BRITAIN': 'GB', ENGLAND: 'GB' };

/** ISO 3166-1 alpha-2 code from a code or an English country name ("gb", "United Kingdom", "USA"); undefined if unknown. */
export function countryCode(raw: unknown): CountryCode | undefined {
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim().toUpperCase();
  if (v.length === 2 && isSupportedCountry(v)) return v;
  if (ALIASES[v]) return ALIASES[v];
  if (!countryNames) {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    countryNames = new Map(getCountries().map((c) => [(names.of(c) ?? c).toUpperCase(), c]));
  }
  return countryNames.get(v);
}

/**
 * E.164, trying each country hint in order (the first under which the number is valid wins); numbers with
 * `+` or an international `00` prefix need none. Extensions are dropped (E.164 has none) with a warning.
 */
export function normalisePhone(raw: unknown, countries: unknown[], warnings: PlanWarning[], field = 'phone_number'): string | undefined {
  if (!present(raw)) return undefined;
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    warnings.push({ field, message: `dropped: a phone number must be text or a number, got ${Array.isArray(raw) ? 'an array' : typeof raw}` });
    return undefined;
  }
  const text = String(raw).trim();
  const hints = [...new Set(countries.map(countryCode).filter((c): c is CountryCode => Boolean(c)))];
  const key = hints.length === 1 ? hints[0] : hints.join(',');
  let parsed = text.length <= MAX_CACHED_PHONE_CHARS ? phones.get(key, text) : undefined;
  if (!parsed) {
    parsed = parsePhone(text, hints);
    if (text.length <= MAX_CACHED_PHONE_CHARS) phones.set(key, text, parsed);
  }
  if (parsed.number) {
    if (parsed.ext)
      warnings.push({ field, message: `dropped extension ${parsed.ext} of ${JSON.stringify(text)}: Klaviyo stores E.164 numbers, which have no extension` });
    return parsed.number;
  }
  warnings.push({
    field,
    message:
      `dropped ${JSON.stringify(text)}: not a valid phone number${hints.length ? ` for ${hints.join(' or ')}` : ''}; send it in E.164 ` +
      `(+12125550100)${hints.length ? '' : ', or set a country (country_code, the address country, or the destination setting defaultCountry)'}`,
  });
  return undefined;
}

/** A phone number as parsed under the given country hints: its E.164 form and extension, or no number when invalid. */
const phones = new BoundedCache<{ number?: string; ext?: string }>(10_000);
/**
 * Longer text is parsed but not cached, so the cache holds at most 10 000 × 64 characters (about 1.3 MB) whatever
 * is sent: no number written by a person is longer, with its spaces and extension.
 */
const MAX_CACHED_PHONE_CHARS = 64;

function parsePhone(text: string, hints: CountryCode[]): { number?: string; ext?: string } {
  const intl = text.replace(/^00[\s.-]*(?=[1-9])/, '+');
  for (const cc of hints.length ? hints : [undefined]) {
    const parsed = parsePhoneNumberFromString(intl, cc);
    if (parsed?.isValid()) return { number: parsed.number, ...(parsed.ext ? { ext: parsed.ext } : {}) };
  }
  return {};
}
