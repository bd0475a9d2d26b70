/** Identifier hygiene shared by every action: E.164 phones, trimmed emails; bad values dropped with a warning. */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { PlanWarning, DestinationSettings } from './types.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normaliseEmail(raw: unknown, warnings: PlanWarning[], field = 'email'): string | undefined {
  if (typeof raw !== 'string' || !raw.trim()) return undefined;
  const trimmed = raw.trim();
  const at = trimmed.lastIndexOf('@');
  const email = at > 0 ? trimmed.slice(0, at) + trimmed.slice(at).toLowerCase() : trimmed;
  if (!EMAIL.test(email) || email.length > 100) {
    warnings.push({ field, message: `dropped ${JSON.stringify(raw)}: not a valid email address` });
    return undefined;
  }
  return email;
}

export function normalisePhone(raw: unknown, country: unknown, settings: DestinationSettings, warnings: PlanWarning[], field = 'phone_number'): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const text = String(raw).trim();
  const cc = (typeof country === 'string' && country ? country : settings.defaultCountry)?.toUpperCase() as CountryCode | undefined;
  const parsed = parsePhoneNumberFromString(text.replace(/^00/, '+'), cc);
  if (parsed && parsed.isValid()) return parsed.number;
  warnings.push({
    field,
    message: `dropped ${JSON.stringify(text)}: not a valid phone number${cc ? ` for country ${cc}` : '; give it in E.164 (+15005550006) or set country_code / settings.defaultCountry'}`,
  });
  return undefined;
}
