/**
 * `segment-classic`: Segment's classic (pre-Actions) Klaviyo destination, server side (seed 003), delivered on
 * Klaviyo's 2026-07-15 API. Settings keep Segment's names (its catalog's keys, plus the labels' names as aliases).
 * What differs, and why: docs/presets/segment-classic.md.
 */
import { z } from 'zod';
import { PayloadError, type PlanWarning, type Subscription } from '../../actions/types.js';
import type { SegmentMessage } from '../../message/index.js';
import {
  DERIVED,
  EMAIL_LIKE,
  derived,
  firstOf,
  firstPresent,
  integrationOptions,
  obj,
  omit,
  parseSettings,
  OWN_SETTINGS,
  pushTokenSubscription,
  path,
  present,
  toNumber,
  withDerived,
  type Preset,
  type PresetStep,
} from '../shared.js';

export const settingsSchema = z.strictObject({
  /** Public key of Klaviyo's browser script: checked, not used (the 2026-07-15 API takes private keys only). */
  apiKey: z.string().optional(),
  /** The Private Key of the List API: the key the service sends with, unless the destination has its own `apiKey`. */
  privateKey: z.string().optional(),
  /** Default list identify calls subscribe to; integrations.Klaviyo.listId overrides it per call. */
  listId: z.string().optional(),
  /** true: the list's confirmation (double opt-in) applies; false: consent is already given. integrations.Klaviyo.confirmOptin overrides it. */
  confirmOptin: z.boolean().default(true),
  /** "Enforce Email as Primary Identifier". */
  enforceEmail: z.boolean().optional(),
  enforceEmailAsPrimary: z.boolean().optional(),
  /** "Fallback on Anonymous ID". */
  sendAnonymous: z.boolean().optional(),
  fallbackOnAnonymousId: z.boolean().optional(),
  /** "Send Placed Order Events as Order Completed". */
  useSegmentSpec: z.boolean().optional(),
  sendPlacedOrderAsOrderCompleted: z.boolean().optional(),
  /** Ours: country of phone numbers without a +prefix. */
  defaultCountry: z.string().optional(),
  ...OWN_SETTINGS,
});
type Raw = z.infer<typeof settingsSchema>;
interface ClassicSettings {
  /** The private key (`privateKey`); `apiKey` was the public one. */
  apiKey?: string;
  listId?: string;
  confirmOptin: boolean;
  enforceEmail: boolean;
  sendAnonymous: boolean;
  useSegmentSpec: boolean;
  defaultCountry?: string;
}
const resolve = (r: Raw): ClassicSettings => ({
  apiKey: r.privateKey || undefined,
  listId: r.listId || undefined,
  confirmOptin: r.confirmOptin,
  // Seed 003 describes both as opt-in; Segment's later catalog defaults them to true (docs/presets/segment-classic.md).
  enforceEmail: r.enforceEmail ?? r.enforceEmailAsPrimary ?? false,
  sendAnonymous: r.sendAnonymous ?? r.fallbackOnAnonymousId ?? false,
  useSegmentSpec: r.useSegmentSpec ?? r.sendPlacedOrderAsOrderCompleted ?? false,
  defaultCountry: r.defaultCountry,
});

/** Traits sent as Klaviyo's special properties, so not repeated as custom ones. */
const SPECIAL_TRAITS = [
  'email',
  'phone',
  'phoneNumber',
  'firstName',
  'lastName',
  'title',
  'organization',
  'company',
  'avatar',
  'city',
  'region',
  'state',
  'country',
  'timezone',
  'zip',
  'address',
];
const ORDER_EVENTS = ['order completed', 'completed order']; // ecommerce spec v2 and v1 names

/**
 * Who the call is about. Klaviyo's $id is the userId (or anonymousId with sendAnonymous); with enforceEmail it is
 * never sent, the email keys the profile and the userId becomes the custom property `id`. An email userId is the email.
 */
function who(s: ClassicSettings, m: SegmentMessage, emailPath: string): { email?: string; externalId?: string; customId?: string } {
  const key = m.userId ?? (s.sendAnonymous ? m.anonymousId : undefined);
  const email = firstPresent(m, [emailPath]) ?? (m.userId && EMAIL_LIKE.test(m.userId) ? m.userId : undefined);
  if (s.enforceEmail) {
    if (!email) throw new PayloadError('email', `enforceEmail is on, so Klaviyo is keyed by email, and the call has none (${emailPath} or an email userId)`);
    return { email, ...(key ? { customId: key } : {}) };
  }
  if (!key) throw new PayloadError('userId', 'server-side calls need a userId; enable sendAnonymous to fall back on the anonymousId');
  return { ...(email ? { email } : {}), externalId: key };
}

function identify(s: ClassicSettings, m: SegmentMessage, warnings: PlanWarning[]) {
  const { customId, ...ids } = who(s, m, 'traits.email');
  const k = integrationOptions(m, 'Klaviyo');
  const listId = present(k?.listId) ? String(k!.listId) : s.listId;
  let list: Record<string, unknown> | undefined;
  if (listId && !ids.email)
    warnings.push({ field: 'traits.email', message: `not subscribed to list ${listId}: the List API needs an email (traits.email or an email userId)` });
  else if (listId) {
    const confirm = typeof k?.confirmOptin === 'boolean' ? k.confirmOptin : s.confirmOptin;
    // Consent already given (confirmOptin false) is a historical import at the call's time: no confirmation email.
    const at = firstPresent(m, ['timestamp', 'originalTimestamp', 'sentAt']);
    if (!confirm && !at)
      warnings.push({
        field: 'timestamp',
        message: 'confirmOptin is false but the call has no timestamp to record as the consent time: subscribed under the list’s own opt-in setting',
      });
    list = { listId, email: ids.email, ...(!confirm && at ? { historicalImport: true, consentedAt: at } : {}) };
  }
  // `company` and `address` are special only as the spec's objects (company.name, address.city…); a plain value
  // (`company: "Navy"`) is a custom property, as every trait the original does not name.
  const special = SPECIAL_TRAITS.filter((k) => !['company', 'address'].includes(k) || obj(m.traits?.[k]));
  return { ...ids, profileProperties: { ...omit(obj(m.traits), special), ...(customId ? { id: customId } : {}) }, ...(list ? { list } : {}) };
}

/** Ordered Product events: productId is the product's id; productUrl / imageUrl go as "Product URL" / "Image URL". */
function products(m: SegmentMessage): Record<string, unknown>[] {
  const list = m.properties?.products;
  return (Array.isArray(list) ? list : []).map((p) => {
    const { productId, productUrl, imageUrl, ...rest } = obj(p) ?? {};
    return {
      ...rest,
      ...(present(productId) ? { product_id: productId } : {}),
      ...(present(productUrl) ? { 'Product URL': productUrl } : {}),
      ...(present(imageUrl) ? { 'Image URL': imageUrl } : {}),
    };
  });
}

function track(s: ClassicSettings, m: SegmentMessage) {
  const { customId, ...ids } = who(s, m, 'properties.email');
  const order = ORDER_EVENTS.includes(String(m.event).trim().toLowerCase());
  return {
    ...ids,
    ...(customId ? { profileProperties: { id: customId } } : {}),
    kind: order ? 'order' : 'event',
    value: toNumber(m.properties?.revenue),
    ...(order ? { products: products(m) } : {}),
  };
}

function prepare(s: ClassicSettings) {
  return (m: SegmentMessage): PresetStep => {
    const warnings: PlanWarning[] = [];
    // Server side the destination took identify and track only (page was browser-only; screen, group, alias unsupported).
    const d = m.type === 'identify' ? identify(s, m, warnings) : m.type === 'track' ? track(s, m) : null;
    return { message: d && withDerived(m, d), ...(warnings.length ? { warnings } : {}) };
  };
}

export function segmentClassic(raw?: Record<string, unknown>): Preset {
  const s = resolve(parseSettings('segment-classic', settingsSchema, raw));
  const profile = { email: derived('email'), external_id: derived('externalId'), properties: derived('profileProperties') };
  const event = {
    profile,
    metric_name: path('event'),
    properties: path('properties'),
    time: path('timestamp'),
    value: derived('value'),
    unique_id: path('messageId'),
  };
  const subscriptions: Subscription[] = [
    {
      name: 'Identify: create or update the person',
      subscribe: 'type = "identify"',
      partnerAction: 'upsertProfile',
      mapping: {
        ...profile,
        phone_number: firstOf('traits.phone', 'traits.phoneNumber'),
        country_code: firstOf('traits.country', 'traits.address.country'),
        first_name: path('traits.firstName'),
        last_name: path('traits.lastName'),
        title: path('traits.title'),
        organization: firstOf('traits.organization', 'traits.company.name'),
        // Its custom properties are the traits the original does not name (phone_number, klaviyo_id… included).
        properties_as_given: true,
        image: path('traits.avatar'),
        location: {
          address1: firstOf('traits.address.street', 'traits.street'),
          city: firstOf('traits.city', 'traits.address.city'),
          region: firstOf('traits.region', 'traits.state', 'traits.address.region', 'traits.address.state'),
          country: firstOf('traits.country', 'traits.address.country'),
          zip: firstOf('traits.zip', 'traits.address.postal_code', 'traits.address.postalCode', 'traits.address.zip'),
          timezone: path('traits.timezone'),
        },
      },
    },
    {
      name: 'Identify: subscribe to the list (listId setting or integrations.Klaviyo.listId)',
      subscribe: `type = "identify" and context.${DERIVED}.list.listId != null`,
      partnerAction: 'subscribeProfile',
      mapping: {
        email: derived('list.email'),
        list_id: derived('list.listId'),
        historical_import: derived('list.historicalImport'),
        consented_at: derived('list.consentedAt'),
      },
    },
    {
      name: 'Track: an event (revenue is its value)',
      subscribe: `type = "track" and context.${DERIVED}.kind = "event"`,
      partnerAction: 'trackEvent',
      mapping: event,
    },
    {
      name: 'Order Completed: Placed Order, then one Ordered Product per product',
      subscribe: `type = "track" and context.${DERIVED}.kind = "order"`,
      partnerAction: 'orderCompleted',
      mapping: {
        ...event,
        metric_name: s.useSegmentSpec ? path('event') : 'Placed Order',
        unique_id: firstOf('properties.eventId', 'properties.orderId', 'properties.order_id'),
        order_id: firstOf('properties.orderId', 'properties.order_id'),
        products: derived('products'),
        product_event_name: 'Ordered Product',
      },
    },
    pushTokenSubscription(),
  ];
  // Identifiers come from these mappings only: with enforceEmail the userId must never become external_id.
  return {
    name: 'segment-classic',
    subscriptions,
    settings: { fillIdentifiers: false, ...(s.defaultCountry ? { defaultCountry: s.defaultCountry } : {}) },
    prepare: prepare(s),
    ...(s.apiKey ? { apiKey: s.apiKey } : {}),
  };
}
