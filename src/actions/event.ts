/** Shared by trackEvent and orderCompleted: a mapped event payload → one event.create operation. */
import type { Operation, ProfileAttributes } from '../klaviyo/operations.js';
import type { DestinationSettings, PlanWarning } from './types.js';
import { identifiers, requireOne, attributes } from './profile.js';

export const MAX_METRIC_NAME = 127;

export function eventProfile(p: Record<string, any>, settings: DestinationSettings, warnings: PlanWarning[]): ProfileAttributes {
  const raw = (p.profile as Record<string, any>) ?? {};
  const profile = attributes(raw, identifiers({ ...raw, country_code: raw.country_code ?? p.country_code }, settings, warnings, 'profile.'));
  requireOne(profile, ['email', 'phone_number', 'external_id', 'anonymous_id', '_kx', 'id'], 'profile');
  const other = raw.other_properties ?? raw.properties;
  if (other && typeof other === 'object') profile.properties = other;
  return profile;
}

export function metricName(raw: unknown, warnings: PlanWarning[], field = 'metric_name'): string {
  const name = String(raw).trim();
  if (name.length <= MAX_METRIC_NAME) return name;
  warnings.push({ field, message: `truncated to ${MAX_METRIC_NAME} characters (Klaviyo's limit)` });
  return name.slice(0, MAX_METRIC_NAME);
}

export function eventOperation(p: Record<string, any>, settings: DestinationSettings, warnings: PlanWarning[], messageId: string): Extract<Operation, { kind: 'event.create' }> {
  const op: Extract<Operation, { kind: 'event.create' }> = {
    kind: 'event.create',
    metric: metricName(p.metric_name, warnings),
    properties: (p.properties as Record<string, unknown>) ?? {},
    uniqueId: String(p.unique_id ?? messageId),
    profile: eventProfile(p, settings, warnings),
  };
  if (p.time) op.time = new Date(p.time).toISOString();
  if (typeof p.value === 'number') op.value = p.value;
  return op;
}
