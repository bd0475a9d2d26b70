/** Field definitions shared by several actions (Segment's keys, labels and default mappings). */
import type { FieldDefinition } from './types.js';

const path = (p: string) => ({ '@path': p });
/** The first of several message paths that exists, as a mapping-kit @if chain. */
const firstOf = (...paths: string[]): unknown =>
  paths.slice(0, -1).reduceRight<unknown>((rest, p) => ({ '@if': { exists: path(p), then: path(p), else: rest } }), path(paths[paths.length - 1]));

export const email = (def: unknown = path('$.traits.email')): FieldDefinition => ({
  label: 'Email',
  description: "Individual's email address. One of External ID, Phone Number and Email required.",
  type: 'string',
  default: def,
});
export const phone_number = (def: unknown = firstOf('$.traits.phone', '$.context.traits.phone')): FieldDefinition => ({
  label: 'Phone Number',
  description: "Individual's phone number; normalised to E.164 (see Country Code). An invalid number is dropped with a warning.",
  type: 'string',
  default: def,
});
export const country_code: FieldDefinition = {
  label: 'Country Code',
  description:
    'Country (ISO 3166-1 alpha-2 code or English name) of phone numbers without a +prefix; ' +
    'then the address country, context.location.country and the defaultCountry setting are tried.',
  type: 'string',
};
export const external_id = (def: unknown = path('$.userId')): FieldDefinition => ({
  label: 'External ID',
  description: 'A unique identifier used by customers to associate Klaviyo profiles with profiles in an external system.',
  type: 'string',
  default: def,
});
export const list_id: FieldDefinition = { label: 'List Id', description: 'The Klaviyo list id.', type: 'string' };
export const enable_batching: FieldDefinition = {
  label: 'Batch Data to Klaviyo',
  description: 'Accepted for compatibility with Segment mappings; this destination always coalesces into bulk requests.',
  type: 'boolean',
};

/**
 * Klaviyo's standard profile attributes read from Segment's trait keys under each base in turn (the first present
 * wins): upsertProfile reads `$.traits`; an Engage audience event `$.properties`, then `$.context.traits`.
 */
export const profileAttributes = (...bases: string[]): Record<string, FieldDefinition> => {
  const at = (key: string) => (bases.length ? firstOf(...bases.map((b) => `${b}.${key}`)) : path(`$.traits.${key}`));
  return {
    first_name: { label: 'First Name', description: "Individual's first name.", type: 'string', default: at('firstName') },
    last_name: { label: 'Last Name', description: "Individual's last name.", type: 'string', default: at('lastName') },
    organization: { label: 'Organization', description: 'Company the individual works for.', type: 'string', default: at('company.name') },
    title: { label: 'Title', description: "Individual's job title.", type: 'string', default: at('title') },
    image: { label: 'Image', description: 'URL of a profile image.', type: 'string', default: at('avatar') },
    location: {
      label: 'Location',
      description: "Individual's address.",
      type: 'object',
      default: {
        address1: at('address.street'),
        address2: at('address.street2'),
        city: at('address.city'),
        region: at('address.state'),
        zip: at('address.postal_code'),
        country: at('address.country'),
        latitude: path('$.context.location.latitude'),
        longitude: path('$.context.location.longitude'),
        timezone: path('$.context.timezone'),
        ip: path('$.context.ip'),
      },
    },
  };
};

export const eventProfile: FieldDefinition = {
  label: 'Profile',
  description: 'Identifiers and attributes of the profile the event belongs to.',
  type: 'object',
  required: true,
  default: {
    email: firstOf('$.context.traits.email', '$.properties.email'),
    phone_number: firstOf('$.context.traits.phone', '$.properties.phone'),
    external_id: path('$.userId'),
    anonymous_id: path('$.anonymousId'),
  },
};

export const eventFields = (metricDefault: unknown): Record<string, FieldDefinition> => ({
  profile: eventProfile,
  country_code,
  metric_name: {
    label: 'Metric Name',
    description: 'Name of the event; must be less than 128 characters.',
    type: 'string',
    required: true,
    default: metricDefault,
  },
  properties: {
    label: 'Properties',
    description: 'Properties of this event (an empty object when the message has none).',
    type: 'object',
    default: path('$.properties'),
  },
  time: { label: 'Time', description: 'When this event occurred.', type: 'datetime', default: path('$.timestamp') },
  value: {
    label: 'Value',
    description: 'A numeric value for the event, e.g. the order amount.',
    type: 'number',
    default: firstOf('$.properties.revenue', '$.properties.value'),
  },
  unique_id: {
    label: 'Unique ID',
    description: 'Deduplicates retries: one event per profile, metric and unique id.',
    type: 'string',
    default: path('$.messageId'),
  },
  backfill: {
    label: 'Backfill',
    description:
      'true: recorded without triggering flows (Klaviyo’s backfill); false: triggers flows however old. Unset: a backfill when ' +
      'the event is older than the backfillAfterHours setting (default 24) when it is sent.',
    type: 'boolean',
  },
  enable_batching,
});

export { path, firstOf };

/**
 * Identifier fields of the consent actions: what is subscribed is the channel each identifier names. Segment's
 * defaults (`$.traits`, then `$.context.traits`), then the event's own `$.properties`.
 */
export const consentIdentifiers = (): Record<string, FieldDefinition> => ({
  email: email(firstOf('$.traits.email', '$.context.traits.email', '$.properties.email')),
  phone_number: phone_number(firstOf('$.traits.phone', '$.context.traits.phone', '$.properties.phone')),
  country_code,
});
