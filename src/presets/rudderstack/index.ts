/**
 * `rudderstack`: RudderStack's Klaviyo destination — cloud mode with `apiVersion` v1 and v2 (seeds 002, 004) and
 * the web SDK's page handling — delivered on Klaviyo's 2026-07-15 API. Settings keep RudderStack's names.
 * What differs, and why: docs/presets/rudderstack.md.
 */
import { z } from 'zod';
import { PayloadError, type PlanWarning, type Subscription } from '../../actions/types.js';
import type { SegmentMessage } from '../../spec/index.js';
import { DERIVED, derived, firstOf, firstPresent, flatten, obj, omit, parseSettings, path, present, toNumber, withDerived, type Preset, type PresetStep } from '../shared.js';

const channel = z.enum(['email', 'sms']);
const eventNames = z
  .array(z.union([z.string(), z.object({ eventName: z.string() })]), { error: 'a list of event names, or of {"eventName": …} as RudderStack stores them' })
  .default([])
  .transform((xs) => xs.map((x) => (typeof x === 'string' ? x : x.eventName).trim()).filter(Boolean));
const ignored = z.unknown().optional();

export const settingsSchema = z.strictObject({
  apiVersion: z.enum(['v1', 'v2'], { error: 'apiVersion must be "v1" or "v2"' }).default('v2'),
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
  sendPageAsTrack: z.boolean().default(false),
  additionalPageInfo: z.boolean().default(false),
  eventFilteringOption: z.enum(['disable', 'whitelistedEvents', 'blacklistedEvents']).default('disable'),
  whitelistedEvents: eventNames,
  blacklistedEvents: eventNames,
  /** Ours: country of phone numbers without a +prefix. */
  defaultCountry: z.string().optional(),
  // Dashboard settings with no effect server-side: accepted, so a config pasted from RudderStack loads.
  publicApiKey: ignored,
  useNativeSDK: ignored,
  connectionMode: ignored,
  consentManagement: ignored,
  oneTrustCookieCategories: ignored,
  ketchConsentPurposes: ignored,
});
export type RudderStackSettings = z.infer<typeof settingsSchema>;
type Version = RudderStackSettings['apiVersion'];
type Channel = z.infer<typeof channel>;

const bags = (...keys: string[]) => ['traits', 'context.traits'].flatMap((b) => keys.map((k) => `${b}.${k}`));
/** A location key in traits, traits.address (both bags), then properties — RudderStack's source order. */
const where = (...keys: string[]) => [...['traits', 'context.traits'].flatMap((b) => [...keys.map((k) => `${b}.${k}`), ...keys.map((k) => `${b}.address.${k}`)]), ...keys.map((k) => `properties.${k}`)];

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
const LOCATION_KEYS = { v1: { identify: ['address1', 'city', 'region', 'country', 'zip', 'timezone'], event: ['address1', 'city', 'region', 'country', 'zip'] }, v2: { identify: Object.keys(LOCATION), event: Object.keys(LOCATION) } };

/** Traits the original maps to Klaviyo attributes, so they are not repeated as custom properties (WhiteListedTraits / …V2). */
const MAPPED = ['email', 'firstName', 'firstname', 'first_name', 'lastName', 'lastname', 'last_name', 'phone', 'title', 'organization', 'city', 'region', 'country', 'zip', 'image', 'timezone', 'anonymousId', 'userId', 'properties'];
const MAPPED_TRAITS: Record<Version, string[]> = { v1: [...MAPPED, 'id'], v2: [...MAPPED, 'location', '_kx', 'street', 'address'] };
/** Event properties that become the event's value (and currency) instead. */
const NOT_EVENT_PROPERTIES: Record<Version, string[]> = { v1: ['email', 'phone', 'revenue', 'total', 'value'], v2: ['event', 'email', 'phone', 'revenue', 'total', 'value', 'value_currency', 'currency'] };

/** v1's ecommerce events: renamed, and their properties mapped to Klaviyo's names ($value/$event_id become value/unique_id). */
const VIEWED = { ProductName: 'name', ProductID: 'product_id', SKU: 'sku', ImageURL: 'image_url', URL: 'url', Brand: 'brand', Price: 'price', CompareAtPrice: 'compare_at_price', Categories: 'categories' };
const ECOMMERCE: Record<string, { metric: string; map: Record<string, string> }> = {
  'product viewed': { metric: 'Viewed Product', map: VIEWED },
  'product clicked': { metric: 'Viewed Product', map: VIEWED },
  'product added': {
    metric: 'Added to Cart',
    map: { $value: 'value', AddedItemProductName: 'name', AddedItemProductID: 'product_id', AddedItemSKU: 'sku', AddedItemImageURL: 'image_url', AddedItemURL: 'url', AddedItemPrice: 'price', AddedItemQuantity: 'quantity', AddedItemCategories: 'categories', ItemNames: 'item_names', CheckoutURL: 'checkout_url' },
  },
  'checkout started': { metric: 'Started Checkout', map: { $event_id: 'order_id', $value: 'value', Categories: 'categories', CheckoutURL: 'checkout_url', ItemNames: 'item_names' } },
};
const ITEM = { ProductID: 'product_id', SKU: 'sku', ProductName: 'name', Quantity: 'quantity', ItemPrice: 'price', RowTotal: 'row_total', ProductURL: 'url', ImageURL: 'image_url', ProductCategories: 'categories' };
const ECOMMERCE_KEYS = ['name', 'product_id', 'sku', 'image_url', 'url', 'brand', 'price', 'compare_at_price', 'quantity', 'categories', 'products', 'product_names', 'order_id', 'value', 'checkout_url', 'item_names', 'items'];

const pick = (map: Record<string, string>, from: Record<string, any>) => Object.fromEntries(Object.entries(map).flatMap(([to, k]) => (present(from[k]) ? [[to, from[k]]] : [])));

/** The profile fields of identify (upsertProfile) and of events (trackEvent's `profile`), per apiVersion. */
function profileMapping(s: RudderStackSettings, use: 'identify' | 'event'): Record<string, unknown> {
  const v2 = s.apiVersion === 'v2';
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
    ...(v2 || use === 'identify' ? { title: firstOf(...bags('title'), 'properties.title'), organization: firstOf(...bags('organization'), 'properties.organization') } : {}),
    image: firstOf(...bags('image'), 'properties.image'),
    location: Object.fromEntries(LOCATION_KEYS[s.apiVersion][use].map((k) => [k, firstOf(...LOCATION[k])])),
    properties: derived('profileProperties'),
    ...(v2 && use === 'identify' ? { patch_properties: derived('patchProperties') } : {}),
  };
}

/** Custom profile properties (traits not mapped to attributes; flattened when asked), the patch (v2) and the Klaviyo profile id. */
function profileDerived(s: RudderStackSettings, m: SegmentMessage) {
  const v2 = s.apiVersion === 'v2';
  if (s.enforceEmailAsPrimary && !v2 && !firstPresent(m, EMAIL) && !firstPresent(m, PHONE)) throw new PayloadError('email', 'enforceEmailAsPrimary is on and the message has neither an email nor a phone');
  const { fields: patched, patch } = v2 ? patchOf(m) : { fields: [] };
  let props: Record<string, unknown> = {};
  for (const bag of [m.traits, m.context?.traits]) Object.assign(props, omit(obj(bag), [...MAPPED_TRAITS[s.apiVersion], ...patched]));
  if (s.flattenProperties) props = flatten(props);
  const userId = firstPresent(m, v2 ? USER_ID : [...USER_ID, 'anonymousId']);
  if (s.enforceEmailAsPrimary && present(userId)) props._id = userId;
  const externalIds: unknown[] = Array.isArray(m.context?.externalId) ? m.context.externalId : [];
  const profileId = externalIds.map(obj).find((x) => x?.type === 'klaviyo-profileId')?.id;
  return { ...(Object.keys(props).length ? { profileProperties: props } : {}), ...(patch ? { patchProperties: patch } : {}), ...(v2 && present(profileId) ? { profileId: String(profileId) } : {}) };
}

/**
 * v2's integrations.Klaviyo.fieldsToUnset / fieldsToAppend / fieldsToUnappend, as the original builds
 * meta.patch_properties: `unset` the names given; `append` / `unappend` {name: value} for each name whose trait
 * (traits, else context.traits) has a value. Those traits are kept out of the custom properties, so a list is
 * never overwritten by one value. Identify calls send the patch with the profile (upsertProfile), track, screen
 * and page calls with the event's profile (trackEvent), as the original does for track and screen.
 */
function patchOf(m: SegmentMessage): { fields: string[]; patch?: { unset?: string[]; append?: Record<string, unknown>; unappend?: Record<string, unknown> } } {
  const k = obj(m.integrations?.Klaviyo);
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
  const patch = { ...(unset?.length ? { unset } : {}), ...(values(append) ? { append: values(append) } : {}), ...(values(unappend) ? { unappend: values(unappend) } : {}) };
  return { fields, ...(Object.keys(patch).length ? { patch } : {}) };
}

/** Consent channels: the message's override (v2 also reads traits.consent; a group also context.traits.consent), else the settings. */
function consentOf(s: RudderStackSettings, m: SegmentMessage, t: Record<string, any> | undefined): Channel[] {
  const override = [s.apiVersion === 'v2' ? t?.consent : undefined, obj(t?.properties)?.consent, m.type === 'group' ? m.context?.traits?.consent : undefined].find(present);
  const raw: unknown = override ?? [...s.consent, ...(s.smsConsent ? ['sms'] : [])];
  return (Array.isArray(raw) ? raw : [raw]).filter((c): c is Channel => c === 'email' || c === 'sms');
}

/**
 * A list (un)subscription: subscribe sends the identifiers whose channel is consented (email → email, phone → SMS);
 * unsubscribe sends both, withdrawing every consent for the list as the original does. With nothing to send, a
 * group call fails (that is its whole purpose) and an identify call goes on without it, with a warning.
 */
function listOp(s: RudderStackSettings, m: SegmentMessage, operation: 'subscribe' | 'unsubscribe', listId: string, t: Record<string, any> | undefined, warnings: PlanWarning[]) {
  const email = firstPresent(m, EMAIL);
  const phone = firstPresent(m, PHONE);
  const channels = operation === 'subscribe' ? consentOf(s, m, t) : ['email', 'sms'];
  const target = { ...(channels.includes('email') && email ? { email } : {}), ...(channels.includes('sms') && phone ? { phone_number: phone } : {}) };
  if (target.email || target.phone_number) return { operation, listId, ...target, ...(operation === 'subscribe' && m.type === 'group' && present(t?.custom_source) ? { customSource: String(t!.custom_source) } : {}) };
  const why = `cannot ${operation} to list ${listId}: ${operation === 'subscribe' ? `consent [${channels.join(', ')}] names no channel whose identifier` : 'neither an email nor a phone'} is in the message`;
  if (m.type === 'group') throw new PayloadError(operation === 'subscribe' ? 'consent' : 'email', why);
  warnings.push({ field: 'traits.properties.subscribe', message: why });
  return undefined;
}

function identify(s: RudderStackSettings, m: SegmentMessage, warnings: PlanWarning[]) {
  const t = obj(m.traits) ?? obj(m.context?.traits); // RudderStack reads traits, else context.traits, whole
  const p = obj(t?.properties);
  const listId = present(p?.listId) ? String(p!.listId) : s.listId || undefined;
  const flag = p?.subscribe;
  // v1 only subscribes; v2 also unsubscribes when the flag is false.
  const operation = s.apiVersion === 'v1' ? (flag ? 'subscribe' : undefined) : flag === undefined || flag === null ? undefined : flag ? 'subscribe' : 'unsubscribe';
  const list = listId && operation ? listOp(s, m, operation, listId, t, warnings) : undefined;
  return { ...profileDerived(s, m), ...(list ? { list } : {}) };
}

function group(s: RudderStackSettings, m: SegmentMessage, warnings: PlanWarning[]) {
  const t = obj(m.traits) ?? obj(m.context?.traits);
  const flag = t?.subscribe;
  if (s.apiVersion === 'v1' && !flag) throw new PayloadError('traits.subscribe', 'a group call needs traits.subscribe = true (apiVersion v1 only subscribes)');
  if (flag === undefined || flag === null) throw new PayloadError('traits.subscribe', 'a group call needs traits.subscribe: true subscribes to the list in groupId, false unsubscribes');
  return { list: listOp(s, m, flag ? 'subscribe' : 'unsubscribe', String(m.groupId), t, warnings) };
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
    ev = { metric: ecommerce.metric, properties, value: toNumber($value), ...(present($event_id) ? { uniqueId: String($event_id) } : {}) };
  } else if (s.apiVersion === 'v1') {
    ev = { metric: name, properties: omit(props, NOT_EVENT_PROPERTIES.v1), value: toNumber(props.revenue || props.total || props.value) };
  } else {
    const currency = props.currency;
    ev = { metric: name, properties: omit(props, NOT_EVENT_PROPERTIES.v2), value: toNumber(firstPresent(props, ['revenue', 'total', 'value'])), ...(typeof currency === 'string' ? { valueCurrency: currency } : {}) };
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

function prepare(s: RudderStackSettings) {
  return (m: SegmentMessage): PresetStep => {
    const warnings: PlanWarning[] = [];
    let d: Record<string, unknown> | null = null;
    if (m.type === 'identify') d = identify(s, m, warnings);
    else if (m.type === 'track') d = filteredOut(s, m.event ?? '') ? null : event(s, m, m.event!);
    // A screen's name is its event (v1 read properties.event / properties.name first).
    else if (m.type === 'screen') d = event(s, m, String((s.apiVersion === 'v1' ? firstPresent(m, ['properties.event', 'properties.name']) : undefined) ?? m.name ?? ''));
    else if (m.type === 'page') d = s.sendPageAsTrack ? page(s, m) : null; // without it the web SDK sent no event
    else if (m.type === 'group') d = group(s, m, warnings);
    // alias: not sent by the original.
    return { message: d && withDerived(m, d), ...(warnings.length ? { warnings } : {}) };
  };
}

export function rudderstack(raw?: Record<string, unknown>): Preset {
  const s = parseSettings('rudderstack', settingsSchema, raw);
  const listTarget = { email: derived('list.email'), phone_number: derived('list.phone_number'), country_code: firstOf(...LOCATION.country), list_id: derived('list.listId') };
  const subscriptions: Subscription[] = [
    { name: 'Identify: create or update the profile', subscribe: 'type = "identify"', partnerAction: 'upsertProfile', mapping: profileMapping(s, 'identify') },
    { name: 'Subscribe to the list (identify, group)', subscribe: `context.${DERIVED}.list.operation = "subscribe"`, partnerAction: 'subscribeProfile', mapping: { ...listTarget, custom_source: derived('list.customSource') } },
    { name: 'Unsubscribe from the list (identify v2, group)', subscribe: `context.${DERIVED}.list.operation = "unsubscribe"`, partnerAction: 'unsubscribeProfile', mapping: listTarget },
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
        ...(s.apiVersion === 'v2' ? { patch_properties: derived('patchProperties') } : {}),
      },
    },
  ];
  // Identifiers come from these mappings only: the original never adds ones it did not map (e.g. external_id under enforceEmailAsPrimary).
  return {
    name: 'rudderstack',
    subscriptions,
    settings: { fillIdentifiers: false, ...(s.defaultCountry ? { defaultCountry: s.defaultCountry } : {}) },
    prepare: prepare(s),
    ...(s.privateApiKey ? { apiKey: s.privateApiKey } : {}),
  };
}
