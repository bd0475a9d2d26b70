/** Shared by trackEvent and orderCompleted: a mapped event payload → one event.create operation. */
import { BACKFILL_AFTER_HOURS, type Operation, type ProfileAttributes } from '../klaviyo/operations.js';
import { PayloadError, type DestinationSettings, type PlanContext, type PlanWarning } from './types.js';
import { identifiers, requireOne, attributes } from './profile.js';
import { IDENTIFIER_ORDER, type Identity } from './identity.js';
import { LIMITS, fitEventProperties, fitProfile } from './limits.js';

export const MAX_METRIC_NAME = LIMITS.metricName;

const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : undefined);

/** The event's profile: mapped identifiers and attributes, identifiers the mapping left empty from the message. */
export function eventProfile(p: Record<string, any>, settings: DestinationSettings, warnings: PlanWarning[], identity?: Identity): ProfileAttributes {
  const raw = obj(p.profile) ?? {};
  const ids = identifiers(raw, settings, warnings, { prefix: 'profile.', identity, countryCode: raw.country_code ?? p.country_code });
  const profile = attributes(raw, ids, warnings, 'profile.');
  requireOne(profile, IDENTIFIER_ORDER, 'profile', warnings);
  const other = obj(raw.other_properties ?? raw.properties);
  if (other) profile.properties = other;
  return fitProfile(profile, warnings, 'profile.');
}

/** Trimmed; over Klaviyo's 127 characters it is cut (by characters, never inside one) with a warning. */
export function metricName(raw: unknown, warnings: PlanWarning[], field = 'metric_name'): string {
  const name = String(raw ?? '').trim();
  if (!name) throw new PayloadError(field, `${field} is empty; Klaviyo needs a metric name`);
  if (name.length <= MAX_METRIC_NAME) return name; // UTF-16 units: never fewer than characters
  const chars = Array.from(name);
  if (chars.length <= MAX_METRIC_NAME) return name;
  warnings.push({ field, message: `truncated to ${MAX_METRIC_NAME} characters (Klaviyo's limit)` });
  return chars.slice(0, MAX_METRIC_NAME).join('');
}

const EARLIEST = Date.UTC(2000, 0, 1); // the stricter of Klaviyo's two published bounds (1990, 2000)
const YEAR_MS = 365 * 24 * 3600 * 1000;

/** ISO time, or undefined with a warning when Klaviyo would refuse it (Klaviyo then uses the time it receives the event). */
export function eventTime(raw: unknown, warnings: PlanWarning[], now = Date.now()): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const t = new Date(raw as string).getTime();
  if (!Number.isNaN(t) && t >= EARLIEST && t <= now + YEAR_MS) return new Date(t).toISOString();
  warnings.push({
    field: 'time',
    message: `dropped ${JSON.stringify(raw)}: Klaviyo accepts event times from 2000 up to a year ahead; the event is recorded at the time Klaviyo receives it`,
  });
  return undefined;
}

export function eventOperation(
  p: Record<string, any>,
  settings: DestinationSettings,
  warnings: PlanWarning[],
  ctx: PlanContext,
  /** The dedupe key when the payload maps no unique_id. */
  defaultUniqueId: string = ctx.messageId,
): Extract<Operation, { kind: 'event.create' }> {
  const op: Extract<Operation, { kind: 'event.create' }> = {
    kind: 'event.create',
    metric: metricName(p.metric_name, warnings),
    properties: fitEventProperties(obj(p.properties) ?? {}, warnings),
    uniqueId: String(p.unique_id ?? defaultUniqueId),
    profile: eventProfile(p, settings, warnings, ctx.identity),
  };
  const time = eventTime(p.time, warnings);
  if (time) op.time = time;
  if (typeof p.value === 'number' && Number.isFinite(p.value)) op.value = p.value;
  // An ISO 4217 code for `value`, when a mapping gives one (the rudderstack preset maps properties.currency).
  if (typeof p.value_currency === 'string' && /^[A-Za-z]{3}$/.test(p.value_currency)) op.valueCurrency = p.value_currency.toUpperCase();
  Object.assign(op, backfillOf(p.backfill, settings));
  return op;
}

/**
 * How the event's backfill is decided when it is sent (isBackfill): a mapped true / false forces it; else the
 * destination's `backfillAfterHours`, carried only when it is not the default.
 */
export function backfillOf(raw: unknown, settings: DestinationSettings): { backfill?: boolean; backfillAfterHours?: number } {
  if (typeof raw === 'boolean') return { backfill: raw };
  const hours = settings.backfillAfterHours;
  return typeof hours === 'number' && hours !== BACKFILL_AFTER_HOURS ? { backfillAfterHours: hours } : {};
}
