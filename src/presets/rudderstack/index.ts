/**
 * `rudderstack`: RudderStack's Klaviyo destination — cloud mode with `apiVersion` v1, v2 and v3 (seeds 002, 004;
 * rudder-transformer's v3 consent flow), Reverse ETL records and the web SDK's page handling — delivered on
 * Klaviyo's 2026-07-15 API. Settings keep RudderStack's names. What differs, and why: docs/presets/rudderstack.md.
 */
import { z } from 'zod';
import { PayloadError, type PlanWarning, type Subscription } from '../../actions/types.js';
import type { SegmentMessage } from '../../message/index.js';
import {
  DERIVED,
  derived,
  firstOf,
  firstPresent,
  flatten,
  get,
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

const channel = z.enum(['email', 'sms']);
const eventNames = z
  .array(z.union([z.string(), z.object({ eventName: z.string() })]), { error: 'a list of event names, or of {"eventName": …} as RudderStack stores them' })
  .default([])
  .transform((xs) => xs.map((x) => (typeof x === 'string' ? x : x.eventName).trim()).filter(Boolean));
const ignored = z.unknown().optional();
/** A web-SDK option: a boolean, or per source type as RudderStack stores it today ({"web": true}). */
const webOption = z
  .union([z.boolean(), z.record(z.string(), z.unknown())], { error: 'true / false, or {"web": true / false} as RudderStack stores it' })
  .default(false)
  .transform((v) => (typeof v === 'boolean' ? v : v.web === true));

/** RudderStack's version when the settings name none: a destination saved before `apiVersion` existed runs v1. */
export const DEFAULT_API_VERSION = 'v1';

export const settingsSchema = z.strictObject({
  apiVersion: z.enum(['v1', 'v2', 'v3'], { error: 'apiVersion must be "v1", "v2" or "v3"' }).default(DEFAULT_API_VERSION),
  /** The Klaviyo private key the service sends with, unless the destination has its own `apiKey` (docs/presets/rudderstack.md). */
  privateApiKey: z.string().min(1).optional(),
  listId: z.string().optional(),
  consent: z
    .union([channel, z.array(channel)], { error: 'consent must be "email", "sms" or a list of them' })
    .default(['email'])
    .transform((c) => (Array.isArray(c) ? c : [c])),
  /** RudderStack's pre-2023 SMS consent checkbox: true adds "sms" to `consent`. */
  smsConsent: z.boolean().optional(),
  enforceEmailAsPrimary: z.boolean().default(false),
  flattenProperties: z.boolean().default(false),
  sendPageAsTrack: webOption,
  additionalPageInfo: webOption,
  eventFilteringOption: z.enum(['disable', 'whitelistedEvents', 'blacklistedEvents']).default('disable'),
  whitelistedEvents: eventNames,
  blacklistedEvents: eventNames,
  /** Ours: country of phone numbers without a +prefix. */
  defaultCountry: z.string().optional(),
  ...OWN_SETTINGS,
  // Keys of RudderStack's destination definition with no effect in cloud mode (device mode, the dashboard, consent
  // managers in the SDKs, a retired revision switch): accepted, so a config copied from RudderStack loads.
  publicApiKey: ignored,
  useNativeSDK: ignored,
  connectionMode: ignored,
  connectionModes: ignored,
  consentManagement: ignored,
  oneTrustCookieCategories: ignored,
  ketchConsentPurposes: ignored,
  useNewKlaviyoRevisionVersion: ignored,
});
export type RudderStackSettings = z.infer<typeof settingsSchema>;
/** v3 behaves as v2 except for consent (listOp): the tables below have a v1 and a v2 column. */
type Version = 'v1' | 'v2';
const family = (s: RudderStackSettings): Version => (s.apiVersion === 'v1' ? 'v1' : 'v2');
type Channel = z.infer<typeof channel>;

const bags = (...keys: string[]) => ['traits', 'context.traits'].flatMap((b) => keys.map((k) => `${b}.${k}`));
/** A location key in traits, traits.address (both bags), then properties — RudderStack's source order. */
const where = (...keys: string[]) => [
  ...['traits', 'context.traits'].flatMap((b) => [...keys.map((k) => `${b}.${k}`), ...keys.map((k) => `${b}.address.${k}`)]),
  ...keys.map((k) => `properties.${k}`),
];

const EMAIL = ['traits.email', 'context.traits.email', 'properties.email'];
const PHONE = ['traits.phone', 'context.traits.phone', 'properties.phone'];
const USER_ID = ['userId', ...bags('userId', 'id')];
const LOCATION: Record<string, string[]> = {
  address1: where('street'),
  city: where('city'),
  region: [...where('region'), ...where('state')],
  country: where('country'),
  zip: where('zip', 'postalcode', 'postalCode'),
  timezone: [...bags('timezone'), 'properties.timezone'],
  ip: ['context.ip', 'request_ip'],
  latitude: ['latitude', 'context.address.latitude', 'context.location.latitude'],
  longitude: ['longitude', 'context.address.longitude', 'context.location.longitude'],
};
/** Location keys each original mapping fills (v1: KlaviyoIdentify, KlaviyoProfile; v2: KlaviyoProfileV2). */
const LOCATION_KEYS = {
  v1: { identify: ['address1', 'city', 'region', 'country', 'zip', 'timezone'], event: ['address1', 'city', 'region', 'country', 'zip'] },
  v2: { identify: Object.keys(LOCATION), event: Object.keys(LOCATION) },
};

/** Traits the original maps to Klaviyo attributes, so they are not repeated as custom properties (WhiteListedTraits / …V2). */
const MAPPED = [
  'email',
  'firstName',
  'firstname',
  'first_name',
  'lastName',
  'lastname',
  'last_name',
  'phone',
  'title',
  'organization',
  'city',
  'region',
  'country',
  'zip',
  'image',
  'timezone',
  'anonymousId',
  'userId',
  'properties',
];
const MAPPED_TRAITS: Record<Version, string[]> = { v1: [...MAPPED, 'id'], v2: [...MAPPED, 'location', '_kx', 'street', 'address'] };
/** Event properties that become the event's value (and currency) instead. */
const NOT_EVENT_PROPERTIES: Record<Version, string[]> = {
  v1: ['email', 'phone', 'revenue', 'total', 'value'],
  v2: ['event', 'email', 'phone', 'revenue', 'total', 'value', 'value_currency', 'currency'],
};

/** v1's ecommerce events: renamed, and their properties mapped to Klaviyo's names ($value/$event_id become value/unique_id). */
const VIEWED = {
  ProductName: 'name',
  ProductID: 'product_id',
  SKU: 'sku',
  ImageURL: 'image_url',
  URL: 'url',
  Brand: 'brand',
  Price: 'price',
  CompareAtPrice: 'compare_at_price',
  Categories: 'categories',
};
const ECOMMERCE: Record<string, { metric: string; map: Record<string, string> }> = {
  'product viewed': { metric: 'Viewed Product', map: VIEWED },
  'product clicked': { metric: 'Viewed Product', map: VIEWED },
  'product added': {
    metric: 'Added to Cart',
    map: {
      $value: 'value',
      AddedItemProductName: 'name',
      AddedItemProductID: 'product_id',
      AddedItemSKU: 'sku',
      AddedItemImageURL: 'image_url',
      AddedItemURL: 'url',
      AddedItemPrice: 'price',
      AddedItemQuantity: 'quantity',
      AddedItemCategories: 'categories',
      ItemNames: 'item_names',
      CheckoutURL: 'checkout_url',
    },
  },
  'checkout started': {
    metric: 'Started Checkout',
    map: { $event_id: 'order_id', $value: 'value', Categories: 'categories', CheckoutURL: 'checkout_url', ItemNames: 'item_names' },
  },
};
const ITEM = {
  ProductID: 'product_id',
  SKU: 'sku',
  ProductName: 'name',
  Quantity: 'quantity',
  ItemPrice: 'price',
  RowTotal: 'row_total',
  ProductURL: 'url',
  ImageURL: 'image_url',
  ProductCategories: 'categories',
};
const ECOMMERCE_KEYS = [
  'name',
  'product_id',
  'sku',
  'image_url',
  'url',
  'brand',
  'price',
  'compare_at_price',
  'quantity',
  'categories',
  'products',
  'product_names',
  'order_id',
  'value',
  'checkout_url',
  'item_names',
  'items',
];

const pick = (map: Record<string, string>, from: Record<string, any>) =>
  Object.fromEntries(Object.entries(map).flatMap(([to, k]) => (present(from[k]) ? [[to, from[k]]] : [])));

/** The profile fields of identify (upsertProfile) and of events (trackEvent's `profile`), per apiVersion. */
function profileMapping(s: RudderStackSettings, use: 'identify' | 'event'): Record<string, unknown> {
  const v2 = family(s) === 'v2';
  return {
    email: firstOf(...EMAIL),
    phone_number: firstOf(...PHONE),
    country_code: firstOf(...LOCATION.country),
    // enforceEmailAsPrimary: no external_id, so email or phone finds the profile. v1 falls back on anonymousId.
    ...(s.enforceEmailAsPrimary ? {} : { external_id: firstOf(...(v2 ? USER_ID : [...USER_ID, 'anonymousId'])) }),
    ...(v2 ? { anonymous_id: path('anonymousId'), id: derived('profileId') } : {}),
    _kx: firstOf(...bags('_kx')),
    first_name: firstOf(...bags('firstName', 'firstname', 'first_name')),
    last_name: firstOf(...bags('lastName', 'lastname', 'last_name')),
    ...(v2 || use === 'identify'
      ? { title: firstOf(...bags('title'), 'properties.title'), organization: firstOf(...bags('organization'), 'properties.organization') }
      : {}),
    image: firstOf(...bags('image'), 'properties.image'),
    location: Object.fromEntries(LOCATION_KEYS[family(s)][use].map((k) => [k, firstOf(...LOCATION[k])])),
    properties: derived('profileProperties'),
    ...(v2 && use === 'identify' ? { patch_properties: derived('patchProperties') } : {}),
    // The traits the original sends as custom properties (company, avatar, address in v1…), none left out again.
    ...(use === 'identify' ? { properties_as_given: true } : {}),
  };
}

/** Custom profile properties (traits not mapped to attributes; flattened when asked), the patch (v2) and the Klaviyo profile id. */
function profileDerived(s: RudderStackSettings, m: SegmentMessage) {
  const v2 = family(s) === 'v2';
  if (s.enforceEmailAsPrimary && !v2 && !firstPresent(m, EMAIL) && !firstPresent(m, PHONE))
    throw new PayloadError('email', 'enforceEmailAsPrimary is on and the message has neither an email nor a phone');
  const { fields: patched, patch } = v2 ? patchOf(m) : { fields: [] };
  let props: Record<string, unknown> = {};
  for (const bag of [m.traits, m.context?.traits]) Object.assign(props, omit(obj(bag), [...MAPPED_TRAITS[family(s)], ...patched]));
  if (s.flattenProperties) props = flatten(props);
  const userId = firstPresent(m, v2 ? USER_ID : [...USER_ID, 'anonymousId']);
  if (s.enforceEmailAsPrimary && present(userId)) props._id = userId;
  const externalIds: unknown[] = Array.isArray(m.context?.externalId) ? m.context.externalId : [];
  const profileId = externalIds.map(obj).find((x) => x?.type === 'klaviyo-profileId')?.id;
  return {
    ...(Object.keys(props).length ? { profileProperties: props } : {}),
    ...(patch ? { patchProperties: patch } : {}),
    ...(v2 && present(profileId) ? { profileId: String(profileId) } : {}),
  };
}

/**
 * v2's integrations.Klaviyo.fieldsToUnset / fieldsToAppend / fieldsToUnappend, as the original builds
 * meta.patch_properties: `unset` the names given; `append` / `unappend` {name: value} for each name whose trait
 * (traits, else context.traits) has a value. Those traits are kept out of the custom properties, so a list is
 * never overwritten by one value. Identify calls send the patch with the profile (upsertProfile), track, screen
 * and page calls with the event's profile (trackEvent), as the original does for track and screen.
 */
function patchOf(m: SegmentMessage): { fields: string[]; patch?: { unset?: string[]; append?: Record<string, unknown>; unappend?: Record<string, unknown> } } {
  const k = integrationOptions(m, 'Klaviyo');
  const names = (f: string) => (Array.isArray(k?.[f]) ? (k![f] as unknown[]).map(String) : undefined);
  const unset = names('fieldsToUnset');
  const append = names('fieldsToAppend');
  const unappend = names('fieldsToUnappend');
  const fields = [...(unset ?? []), ...(append ?? []), ...(unappend ?? [])];
  if (!fields.length) return { fields };
  const traits = obj(m.traits) ?? obj(m.context?.traits);
  const values = (list: string[] | undefined) => {
    const out: Record<string, unknown> = {};
    for (const f of list ?? []) if (traits?.[f] !== undefined && traits[f] !== null) out[f] = traits[f];
    return Object.keys(out).length ? out : undefined;
  };
  const patch = {
    ...(unset?.length ? { unset } : {}),
    ...(values(append) ? { append: values(append) } : {}),
    ...(values(unappend) ? { unappend: values(unappend) } : {}),
  };
  return { fields, ...(Object.keys(patch).length ? { patch } : {}) };
}

/** Consent channels: the message's override (v2, v3 also read traits.consent; a group also context.traits.consent), else the settings. */
function consentOf(s: RudderStackSettings, m: SegmentMessage, t: Record<string, any> | undefined): Channel[] {
  const override = [family(s) === 'v2' ? t?.consent : undefined, obj(t?.properties)?.consent, m.type === 'group' ? m.context?.traits?.consent : undefined].find(
    present,
  );
  const raw: unknown = override ?? [...s.consent, ...(s.smsConsent ? ['sms'] : [])];
  return (Array.isArray(raw) ? raw : [raw]).filter((c): c is Channel => c === 'email' || c === 'sms');
}

/**
 * A list (un)subscription: subscribe sends the identifiers whose channel is consented (email → email, phone → SMS).
 * Unsubscribe: v2 sends both, withdrawing every consent for the list as the original does; v3 only the consented
 * channels (the original's explicit UNSUBSCRIBED states). With nothing to send, a group call fails (that is its
 * whole purpose), and so does any v3 call (the original refuses it); a v1/v2 identify call goes on without it, with a warning.
 */
function listOp(
  s: RudderStackSettings,
  m: SegmentMessage,
  operation: 'subscribe' | 'unsubscribe',
  listId: string,
  t: Record<string, any> | undefined,
  warnings: PlanWarning[],
) {
  const email = firstPresent(m, EMAIL);
  const phone = firstPresent(m, PHONE);
  const byConsent = operation === 'subscribe' || s.apiVersion === 'v3';
  const channels = byConsent ? consentOf(s, m, t) : ['email', 'sms'];
  const target = { ...(channels.includes('email') && email ? { email } : {}), ...(channels.includes('sms') && phone ? { phone_number: phone } : {}) };
  if (target.email || target.phone_number)
    return {
      operation,
      listId,
      ...target,
      ...(operation === 'subscribe' && m.type === 'group' && present(t?.custom_source) ? { customSource: String(t!.custom_source) } : {}),
    };
  const why =
    `cannot ${operation} ${operation === 'subscribe' ? 'to' : 'from'} list ${listId}: ` +
    `${byConsent ? `consent [${channels.join(', ')}] names no channel whose identifier` : 'neither an email nor a phone'} is in the message`;
  if (m.type === 'group' || s.apiVersion === 'v3') throw new PayloadError(byConsent ? 'consent' : 'email', why);
  warnings.push({ field: 'traits.properties.subscribe', message: why });
  return undefined;
}

function identify(s: RudderStackSettings, m: SegmentMessage, warnings: PlanWarning[]) {
  const t = obj(m.traits) ?? obj(m.context?.traits); // RudderStack reads traits, else context.traits, whole
  const p = obj(t?.properties);
  const listId = present(p?.listId) ? String(p!.listId) : s.listId || undefined;
  const flag = p?.subscribe;
  // v1 only subscribes; v2 and v3 also unsubscribe when the flag is false.
  const operation =
    s.apiVersion === 'v1' ? (flag ? 'subscribe' : undefined) : flag === undefined || flag === null ? undefined : flag ? 'subscribe' : 'unsubscribe';
  const list = listId && operation ? listOp(s, m, operation, listId, t, warnings) : undefined;
  return { ...profileDerived(s, m), ...(list ? { list } : {}) };
}

function group(s: RudderStackSettings, m: SegmentMessage, warnings: PlanWarning[]) {
  const t = obj(m.traits) ?? obj(m.context?.traits);
  const flag = t?.subscribe;
  if (s.apiVersion === 'v1' && !flag) throw new PayloadError('traits.subscribe', 'a group call needs traits.subscribe = true (apiVersion v1 only subscribes)');
  if (flag === undefined || flag === null)
    throw new PayloadError('traits.subscribe', 'a group call needs traits.subscribe: true subscribes to the list in groupId, false unsubscribes');
  return { list: listOp(s, m, flag ? 'subscribe' : 'unsubscribe', String(m.groupId), t, warnings) };
}

/**
 * The event's value: a number, or numeric text. Anything else refuses the event, naming the property, as v2 and v3
 * do ("Invalid float value"); v1 passed it on and Klaviyo refused it. Never dropped silently.
 */
function numericValue(props: Record<string, any>, key: string | undefined): number | undefined {
  if (key === undefined || !present(props[key])) return undefined;
  const n = toNumber(props[key]);
  if (n === undefined)
    throw new PayloadError(
      `properties.${key}`,
      `properties.${key} is the event's value and must be a number (or numeric text); got ${JSON.stringify(props[key])}`,
    );
  return n;
}

/** track and screen: metric, properties and value as the apiVersion builds them. */
function event(s: RudderStackSettings, m: SegmentMessage, name: string) {
  const props = obj(m.properties) ?? {};
  const ecommerce = s.apiVersion === 'v1' && m.properties ? ECOMMERCE[name.trim().toLowerCase()] : undefined;
  let ev: { metric: string; properties: Record<string, any>; value?: number; valueCurrency?: string; uniqueId?: string };
  if (ecommerce) {
    const items = props.items ?? props.products; // items first; products is the fallback
    const mapped = Array.isArray(items) ? items.map((i) => pick(ITEM, obj(i) ?? {})).filter((i) => Object.keys(i).length) : [];
    const all: Record<string, any> = { ...pick(ecommerce.map, props), ...(mapped.length ? { items: mapped } : {}), ...omit(props, ECOMMERCE_KEYS) };
    const { $value, $event_id, ...properties } = all;
    ev = {
      metric: ecommerce.metric,
      properties,
      value: numericValue(props, present($value) ? 'value' : undefined),
      ...(present($event_id) ? { uniqueId: String($event_id) } : {}),
    };
  } else if (s.apiVersion === 'v1') {
    ev = {
      metric: name,
      properties: omit(props, NOT_EVENT_PROPERTIES.v1),
      value: numericValue(
        props,
        ['revenue', 'total', 'value'].find((k) => props[k]),
      ),
    }; // v1: revenue || total || value
  } else {
    const currency = props.currency;
    ev = {
      metric: name,
      properties: omit(props, NOT_EVENT_PROPERTIES.v2),
      value: numericValue(
        props,
        ['revenue', 'total', 'value'].find((k) => present(props[k])),
      ),
      ...(typeof currency === 'string' ? { valueCurrency: currency } : {}),
    };
  }
  if (s.flattenProperties) ev.properties = flatten(ev.properties);
  return { ...profileDerived(s, m), ...ev, uniqueId: ev.uniqueId ?? m.messageId };
}

/** The web SDK's page handling (sendPageAsTrack, additionalPageInfo). */
function page(s: RudderStackSettings, m: SegmentMessage) {
  const props = obj(m.properties);
  const metric = props?.category && m.name ? `Viewed ${props.category} ${m.name} page` : m.name ? `Viewed ${m.name} page` : 'Viewed a Page';
  return { ...profileDerived(s, m), metric, properties: s.additionalPageInfo && props ? props : {}, uniqueId: m.messageId };
}

/** RudderStack's event filtering: track calls only, names trimmed and compared case-sensitively. */
function filteredOut(s: RudderStackSettings, eventName: string): boolean {
  const name = eventName.trim();
  if (s.eventFilteringOption === 'whitelistedEvents') return !s.whitelistedEvents.includes(name);
  if (s.eventFilteringOption === 'blacklistedEvents') return s.blacklistedEvents.includes(name);
  return false;
}

/**
 * A screen's metric: its `event` field when the SDK set one (RudderStack v1 and v2 both read it first),
 * then v1's properties.event / properties.name, then the screen name.
 */
function screenName(s: RudderStackSettings, m: SegmentMessage): string {
  return String(firstPresent(m, ['event', ...(s.apiVersion === 'v1' ? ['properties.event', 'properties.name'] : []), 'name']) ?? '');
}

/**
 * A Reverse ETL record (context.mappedToDestination, from a RudderStack warehouse source with its fields mapped to
 * the destination's): the first context.externalId names the user — its id becomes userId and the trait named by
 * its identifierType (e.g. email) — and the identify subscribes unless traits.properties.subscribe says otherwise.
 * Identify calls only, as the original.
 */
function reverseEtl(m: SegmentMessage): SegmentMessage {
  const flag = get(m, 'context.mappedToDestination');
  if (m.type !== 'identify' || !(flag === true || flag === 'true')) return m;
  const ext = obj(Array.isArray(m.context?.externalId) ? m.context.externalId[0] : undefined);
  const bag = obj(m.traits) ? 'traits' : 'context';
  const traits: Record<string, any> = { ...(obj(m.traits) ?? obj(m.context?.traits) ?? {}) };
  if (present(ext?.id) && typeof ext?.identifierType === 'string' && ext.identifierType) traits[ext.identifierType] = ext.id;
  const props = obj(traits.properties) ?? {};
  traits.properties = { ...props, subscribe: props.subscribe === undefined ? true : props.subscribe };
  const out: SegmentMessage = { ...m, ...(present(ext?.id) ? { userId: String(ext!.id) } : {}) };
  if (bag === 'traits') out.traits = traits;
  else out.context = { ...(m.context ?? {}), traits };
  return out;
}

function prepare(s: RudderStackSettings) {
  return (input: SegmentMessage): PresetStep => {
    const warnings: PlanWarning[] = [];
    const m = reverseEtl(input);
    let d: Record<string, unknown> | null = null;
    if (m.type === 'identify') d = identify(s, m, warnings);
    else if (m.type === 'track') d = filteredOut(s, m.event ?? '') ? null : event(s, m, m.event!);
    else if (m.type === 'screen') d = event(s, m, screenName(s, m));
    else if (m.type === 'page')
      d = s.sendPageAsTrack ? page(s, m) : null; // without it the web SDK sent no event
    else if (m.type === 'group') d = group(s, m, warnings);
    // alias: not sent by the original.
    return { message: d && withDerived(m, d), ...(warnings.length ? { warnings } : {}) };
  };
}

/**
 * The settings object out of what a RudderStack user has at hand: the settings themselves, or a destination export
 * holding them under `config` / `Config` (its other keys — ID, name, definition, … — are RudderStack's, not settings).
 */
export function settingsOf(raw: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!raw) return raw;
  const inner = obj(raw.Config) ?? obj(raw.config);
  return inner && !Object.keys(raw).some((k) => k in settingsSchema.shape) ? inner : raw;
}

export function rudderstack(raw?: Record<string, unknown>): Preset {
  const settings = settingsOf(raw);
  const s = parseSettings('rudderstack', settingsSchema, settings);
  const summary =
    `apiVersion ` +
    `${s.apiVersion}${settings?.apiVersion === undefined ? ' (the settings name none: RudderStack’s default for a destination saved without one)' : ''}`;
  const listTarget = {
    email: derived('list.email'),
    phone_number: derived('list.phone_number'),
    country_code: firstOf(...LOCATION.country),
    list_id: derived('list.listId'),
  };
  const subscriptions: Subscription[] = [
    { name: 'Identify: create or update the profile', subscribe: 'type = "identify"', partnerAction: 'upsertProfile', mapping: profileMapping(s, 'identify') },
    {
      name: 'Subscribe to the list (identify, group)',
      subscribe: `context.${DERIVED}.list.operation = "subscribe"`,
      partnerAction: 'subscribeProfile',
      mapping: { ...listTarget, custom_source: derived('list.customSource') },
    },
    {
      name: 'Unsubscribe from the list (identify and group, v2 and v3)',
      subscribe: `context.${DERIVED}.list.operation = "unsubscribe"`,
      partnerAction: 'unsubscribeProfile',
      mapping: listTarget,
    },
    {
      name: 'Track, screen and page: an event',
      subscribe: 'type = "track" or type = "screen" or type = "page"',
      partnerAction: 'trackEvent',
      mapping: {
        profile: profileMapping(s, 'event'),
        metric_name: derived('metric'),
        properties: derived('properties'),
        time: firstOf('timestamp', 'originalTimestamp'),
        value: derived('value'),
        value_currency: derived('valueCurrency'),
        unique_id: derived('uniqueId'),
        ...(family(s) === 'v2' ? { patch_properties: derived('patchProperties') } : {}),
      },
    },
    pushTokenSubscription(),
  ];
  // Identifiers come from these mappings only: the original never adds ones it did not map (e.g. external_id under enforceEmailAsPrimary).
  return {
    name: 'rudderstack',
    summary,
    subscriptions,
    settings: { fillIdentifiers: false, ...(s.defaultCountry ? { defaultCountry: s.defaultCountry } : {}) },
    prepare: prepare(s),
    ...(s.privateApiKey ? { apiKey: s.privateApiKey } : {}),
  };
}
