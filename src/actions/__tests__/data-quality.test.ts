/**
 * Data quality at the edge (issue 9): real-world identifiers and payloads → the exact Klaviyo request attributes
 * or the per-event warning, every request valid against Klaviyo's OpenAPI spec in strict mode.
 */
import { describe, expect, it } from 'vitest';
import { compileDestination, planMessage, type CompiledDestination, type MessageResult } from '../../destination/index.js';
import { validateMessage, type SegmentMessage } from '../../message/index.js';
import { previewRequests, type PreviewRequest } from '../../preview/index.js';
import { LIMITS, jsonBytes } from '../limits.js';
import { onDelete } from '../index.js';
import { validateStrict } from '../../../test/helpers/klaviyo-validate.js';

const US = compileDestination({ settings: { defaultCountry: 'US' } });
const NO_COUNTRY = compileDestination({});
const custom = (subscribe: string, partnerAction: string, mapping: Record<string, unknown>) =>
  compileDestination({ subscriptions: [{ subscribe, partnerAction, mapping }], settings: { defaultCountry: 'US' } });

const TS = '2026-11-20T10:00:00.000Z';
const identify = (traits: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'identify',
  messageId: 'm1',
  timestamp: TS,
  userId: 'u1',
  traits,
  ...extra,
});
const track = (event: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'track',
  messageId: 'm1',
  timestamp: TS,
  userId: 'u1',
  event,
  properties,
  ...extra,
});

interface Outcome {
  result: MessageResult;
  requests: PreviewRequest[];
  warnings: Array<[string, string]>;
}

/** Ingest (validateMessage) unless `raw`: RETL-style callers and replays hand planMessage messages directly. */
async function run(message: Record<string, unknown>, dest = US, raw = false): Promise<Outcome> {
  let m = message as SegmentMessage;
  const warnings: Array<[string, string]> = [];
  if (!raw) {
    const v = validateMessage(message);
    if (!v.ok) throw new Error(`invalid test message: ${JSON.stringify(v.error)}`);
    m = v.message;
    for (const w of v.warnings ?? []) warnings.push([w.field, w.message]);
  }
  const result = planMessage(dest, m);
  for (const w of result.warnings) warnings.push([w.field, w.message]);
  const requests = await previewRequests(result.operations);
  for (const r of requests) expect(validateStrict({ method: r.method, path: r.path, body: r.body }).errors, `${r.method} ${r.path}`).toEqual([]);
  return { result, requests, warnings };
}

/** The profile a request sends: profile-import's data, or the event's profile. */
function profileOf(r: PreviewRequest): { id?: string; attributes: Record<string, unknown> } {
  const data = (r.body as any).data;
  if (r.path === '/api/events') return data.attributes.profile.data;
  return r.path === '/api/profile-bulk-import-jobs' ? data.attributes.profiles.data[0] : data;
}
const eventOf = (r: PreviewRequest) => (r.body as any).data.attributes;

interface Case {
  name: string;
  message: Record<string, unknown>;
  dest?: CompiledDestination;
  raw?: boolean;
  /** Exact attributes of the profile sent by the first request. */
  profile?: Record<string, unknown>;
  profileId?: string;
  /** Exact event properties (first request must be POST /api/events). */
  properties?: Record<string, unknown>;
  metric?: string;
  /** Exact warnings, in order: [field, message pattern]. None expected when omitted. */
  warnings?: Array<[string, RegExp]>;
  error?: [string, RegExp];
  check?: (o: Outcome) => void;
}

const big = (n: number, c = 'x') => c.repeat(n);
const nested = (levels: number): Record<string, unknown> => (levels === 0 ? { leaf: 1 } : { n: nested(levels - 1) });

const CASES: Case[] = [
  // ── Phones ─────────────────────────────────────────────────────────────────────────────────────────────
  { name: 'US national format with parentheses', message: identify({ phone: '(212) 555-0100' }), profile: { phone_number: '+12125550100', external_id: 'u1' } },
  { name: 'US with dots', message: identify({ phone: '212.555.0100' }), profile: { phone_number: '+12125550100', external_id: 'u1' } },
  { name: 'US with spaces and a leading 1', message: identify({ phone: '1 212 555 0100' }), profile: { phone_number: '+12125550100', external_id: 'u1' } },
  { name: 'UK international with spaces', message: identify({ phone: '+44 7911 123456' }), profile: { phone_number: '+447911123456', external_id: 'u1' } },
  {
    name: 'UK with a 0044 international prefix',
    message: identify({ phone: '0044 7911 123456' }),
    profile: { phone_number: '+447911123456', external_id: 'u1' },
  },
  { name: 'UK dialled from the US (011)', message: identify({ phone: '011 44 7911 123456' }), profile: { phone_number: '+447911123456', external_id: 'u1' } },
  { name: 'tel: URI', message: identify({ phone: 'tel:+1-212-555-0100' }), profile: { phone_number: '+12125550100', external_id: 'u1' } },
  { name: 'phone sent as a JSON number', message: identify({ phone: 2125550100 }), profile: { phone_number: '+12125550100', external_id: 'u1' } },
  {
    name: 'extension "ext." is dropped with a warning',
    message: identify({ phone: '212 555 0100 ext. 12' }),
    profile: { phone_number: '+12125550100', external_id: 'u1' },
    warnings: [['phone_number', /^dropped extension 12 of "212 555 0100 ext\. 12": Klaviyo stores E\.164 numbers/]],
  },
  {
    name: 'extension "x" is dropped with a warning',
    message: identify({ phone: '+1 212-555-0100 x7' }),
    profile: { phone_number: '+12125550100', external_id: 'u1' },
    warnings: [['phone_number', /^dropped extension 7 /]],
  },
  {
    name: 'UK national number, address country GB',
    message: identify({ phone: '07911 123456', address: { country: 'GB' } }),
    profile: { phone_number: '+447911123456', external_id: 'u1', location: { country: 'GB' } },
  },
  {
    name: 'UK national number, address country as an English name',
    message: identify({ phone: '07911 123456', address: { country: 'United Kingdom' } }),
    profile: { phone_number: '+447911123456', external_id: 'u1', location: { country: 'United Kingdom' } },
  },
  {
    name: 'German number, context.location.country "Germany"',
    message: identify({ phone: '030 1234567' }, { context: { location: { country: 'Germany' } } }),
    profile: { phone_number: '+49301234567', external_id: 'u1' },
  },
  {
    name: 'French mobile with pairs of digits',
    message: identify({ phone: '06 12 34 56 78', address: { country: 'fr' } }),
    profile: { phone_number: '+33612345678', external_id: 'u1', location: { country: 'fr' } },
  },
  {
    name: 'Brazilian mobile',
    message: identify({ phone: '(11) 91234-5678' }, { context: { location: { country: 'BR' } } }),
    profile: { phone_number: '+5511912345678', external_id: 'u1' },
  },
  {
    name: 'Japanese mobile with dashes',
    message: identify({ phone: '090-1234-5678' }, { context: { location: { country: 'Japan' } } }),
    profile: { phone_number: '+819012345678', external_id: 'u1' },
  },
  {
    name: 'Australian mobile',
    message: identify({ phone: '0412 345 678' }, { context: { location: { country: 'AU' } } }),
    profile: { phone_number: '+61412345678', external_id: 'u1' },
  },
  { name: 'Indian mobile, international', message: identify({ phone: '+91 98765 43210' }), profile: { phone_number: '+919876543210', external_id: 'u1' } },
  {
    name: 'a US number with a GB address falls back to defaultCountry',
    message: identify({ phone: '(212) 555-0100', address: { country: 'GB' } }),
    profile: { phone_number: '+12125550100', external_id: 'u1', location: { country: 'GB' } },
  },
  {
    name: 'too short: dropped, the rest of the profile goes on',
    message: identify({ phone: '12', email: 'a@b.co' }),
    profile: { email: 'a@b.co', external_id: 'u1' },
    warnings: [['phone_number', /^dropped "12": not a valid phone number for US; send it in E\.164 \(\+12125550100\)$/]],
  },
  {
    name: 'vanity letters: dropped',
    message: identify({ phone: '1-800-FLOWERS' }),
    profile: { external_id: 'u1' },
    warnings: [['phone_number', /^dropped "1-800-FLOWERS": not a valid phone number/]],
  },
  {
    name: 'unassigned area code 555: dropped',
    message: identify({ phone: '+1 555 555 5555' }),
    profile: { external_id: 'u1' },
    warnings: [['phone_number', /^dropped "\+1 555 555 5555"/]],
  },
  {
    name: 'no country anywhere: the warning says how to fix it',
    dest: NO_COUNTRY,
    message: identify({ phone: '(212) 555-0100' }),
    profile: { external_id: 'u1' },
    warnings: [
      [
        'phone_number',
        new RegExp(
          'not a valid phone number; send it in E\\.164 \\(\\+12125550100\\), or set a country ' +
            '\\(country_code, the address country, or the destination setting defaultCountry\\)$',
        ),
      ],
    ],
  },
  {
    name: 'phone-only profile with an anonymous id',
    message: { type: 'identify', messageId: 'm1', anonymousId: 'anon-1', traits: { phone: '+1 (212) 555-0100' } },
    profile: { phone_number: '+12125550100', properties: { anonymous_id: 'anon-1' } },
  },
  {
    name: 'the only identifier is an invalid phone: the event fails, naming the fix',
    message: { type: 'identify', messageId: 'm1', anonymousId: 'anon-1', traits: { phone: 'call me' } },
    error: [
      'email',
      new RegExp(
        '^a valid email, phone_number, external_id, _kx, id is required to identify the profile ' +
          '\\(phone_number: dropped "call me": not a valid phone number for US',
      ),
    ],
  },
  {
    name: 'track: phone from context.traits with a SMS-style format',
    message: track('Viewed', {}, { context: { traits: { phone: '+44 (0) 7911 123456' } } }),
    profile: { phone_number: '+447911123456', external_id: 'u1' },
    properties: {},
  },

  // ── Emails ─────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: 'spaces and an upper-case domain',
    message: identify({ email: '  Ann.Lee@Example.COM ' }),
    profile: { email: 'Ann.Lee@example.com', external_id: 'u1' },
  },
  { name: 'mailto: prefix', message: identify({ email: 'mailto:bob@EXAMPLE.org' }), profile: { email: 'bob@example.org', external_id: 'u1' } },
  {
    name: 'plus tag and a country-code TLD',
    message: identify({ email: 'User+Tag@Sub.Example.CO.UK' }),
    profile: { email: 'User+Tag@sub.example.co.uk', external_id: 'u1' },
  },
  { name: 'internationalised domain and local part', message: identify({ email: 'José@Bücher.DE' }), profile: { email: 'José@bücher.de', external_id: 'u1' } },
  {
    name: 'space inside: dropped',
    message: identify({ email: 'ann lee@example.com' }),
    profile: { external_id: 'u1' },
    warnings: [['email', /^dropped "ann lee@example\.com": not a valid email address \(expected name@example\.com\)$/]],
  },
  {
    name: 'no TLD: dropped',
    message: identify({ email: 'ann@localhost' }),
    profile: { external_id: 'u1' },
    warnings: [['email', /^dropped "ann@localhost": not a valid email/]],
  },
  {
    name: 'two @: dropped',
    message: identify({ email: 'ann@@example.com' }),
    profile: { external_id: 'u1' },
    warnings: [['email', /^dropped "ann@@example\.com"/]],
  },
  {
    name: 'double dot: dropped',
    message: identify({ email: 'ann..lee@example.com' }),
    profile: { external_id: 'u1' },
    warnings: [['email', /^dropped "ann\.\.lee@example\.com"/]],
  },
  {
    name: 'over 100 characters: dropped',
    message: identify({ email: `${big(95)}@x.com` }),
    profile: { external_id: 'u1' },
    warnings: [['email', /longer than Klaviyo's 100 characters$/]],
  },
  {
    name: 'a number is not an email',
    message: identify({ email: 12345 }),
    profile: { external_id: 'u1' },
    warnings: [['email', /^dropped "12345": not a valid email/]],
  },
  {
    name: 'invalid traits.email, valid context.traits.email: the next source is used',
    message: identify({ email: 'n/a' }, { context: { traits: { email: 'real@example.com' } } }),
    profile: { email: 'real@example.com', external_id: 'u1' },
    warnings: [['email', /^dropped "n\/a"/]],
  },

  // ── Identity resolution ────────────────────────────────────────────────────────────────────────────────
  {
    name: 'track carries email and phone from context.traits, plus user and anonymous ids',
    message: track('Viewed Product', { sku: 'S1' }, { anonymousId: 'a1', context: { traits: { email: 'ann@example.com', phone: '212-555-0100' } } }),
    profile: { email: 'ann@example.com', phone_number: '+12125550100', external_id: 'u1', anonymous_id: 'a1' },
    properties: { sku: 'S1' },
    metric: 'Viewed Product',
  },
  {
    name: 'track with top-level traits (not in the default mapping) still carries the email',
    message: track('Viewed', {}, { traits: { email: 'top@example.com' } }),
    profile: { email: 'top@example.com', external_id: 'u1' },
  },
  {
    name: 'track with the email only in properties',
    message: track('Signed Up', { email: 'Prop@Example.com', plan: 'pro' }),
    profile: { email: 'Prop@example.com', external_id: 'u1' },
    properties: { email: 'Prop@Example.com', plan: 'pro' },
  },
  {
    name: 'anonymous-only track',
    message: { type: 'track', messageId: 'm1', anonymousId: 'anon-9', event: 'Page Scrolled' },
    profile: { anonymous_id: 'anon-9' },
    properties: {},
  },
  { name: 'userId-only identify', message: identify({}), profile: { external_id: 'u1' } },
  {
    name: 'numeric userId becomes text',
    message: { type: 'identify', messageId: 'm1', userId: 123456789012, traits: {} },
    profile: { external_id: '123456789012' },
  },
  {
    name: 'email from context.externalIds',
    message: identify({}, { context: { externalIds: [{ id: 'ext@example.com', type: 'email', collection: 'users', encoding: 'none' }] } }),
    profile: { email: 'ext@example.com', external_id: 'u1' },
  },
  {
    name: '_kx-only profile (no userId)',
    message: { type: 'identify', messageId: 'm1', anonymousId: 'a1', traits: { _kx: 'kx-token==' } },
    profile: { _kx: 'kx-token==', properties: { anonymous_id: 'a1' } },
  },
  {
    name: 'Klaviyo profile id from context.externalIds goes to data.id',
    message: identify({ email: 'k@example.com' }, { context: { externalIds: [{ id: '01GDDKASAP8TKDDA2GRZDSVP4H', type: 'klaviyo_profile_id' }] } }),
    profile: { email: 'k@example.com', external_id: 'u1' },
    profileId: '01GDDKASAP8TKDDA2GRZDSVP4H',
  },
  {
    name: 'track: Klaviyo profile id from context.externalIds on the event profile',
    message: track('Viewed', {}, { context: { externalIds: [{ id: '01GDDKASAP8TKDDA2GRZDSVP4H', type: 'klaviyo_id' }] } }),
    profile: { external_id: 'u1' },
    profileId: '01GDDKASAP8TKDDA2GRZDSVP4H',
  },
  {
    name: 'Audience Entered: the list upsert carries the email and phone from context.traits',
    message: track(
      'Audience Entered',
      {},
      { context: { traits: { email: 'vip@example.com', phone: '+1 212 555 0100' }, personas: { computation_key: 'vips', computation_id: 'aud_1' } } },
    ),
    warnings: [],
    check: ({ requests }) => {
      const upsert = requests.find((r) => r.path === '/api/profile-bulk-import-jobs')!;
      expect(profileOf(upsert)).toEqual({ type: 'profile', attributes: { email: 'vip@example.com', phone_number: '+12125550100', external_id: 'u1' } });
      // The audience's list is looked up by name, created when missing, and the import job names its id.
      expect(requests.filter((r) => r.path.startsWith('/api/lists')).map((r) => [r.method, decodeURIComponent(r.path)])).toEqual([
        ['GET', '/api/lists?filter=equals(name,"vips")'],
        ['POST', '/api/lists'],
      ]);
      expect((upsert.body as any).data.relationships).toEqual({ lists: { data: [{ type: 'list', id: '<list id of vips>' }] } });
    },
  },
  {
    name: "a group call's traits are the group's, not the user's",
    dest: custom('type = "group"', 'upsertProfile', { first_name: { '@path': '$.traits.name' } }),
    message: { type: 'group', messageId: 'm1', userId: 'u1', groupId: 'g1', traits: { email: 'billing@acme.com', name: 'Acme' } },
    profile: { external_id: 'u1', first_name: 'Acme' },
  },
  {
    name: 'consent uses mapped identifiers only: a phone found elsewhere adds no SMS consent',
    message: track('User Subscribed', { email: 'sub@example.com' }, { context: { externalIds: [{ id: '212-555-0100', type: 'phone' }] } }),
    check: ({ requests }) => {
      const sub = requests.find((r) => r.path === '/api/profile-subscription-bulk-create-jobs')!;
      expect((sub.body as any).data.attributes.profiles.data).toEqual([
        { type: 'profile', attributes: { email: 'sub@example.com', subscriptions: { email: { marketing: { consent: 'SUBSCRIBED' } } } } },
      ]);
    },
  },

  // ── Klaviyo's limits ───────────────────────────────────────────────────────────────────────────────────
  {
    name: 'metric name over 127 characters',
    message: track(big(200, 'm'), {}),
    metric: big(127, 'm'),
    warnings: [['metric_name', /^truncated to 127 characters \(Klaviyo's limit\)$/]],
  },
  {
    name: 'metric name cut between characters, never inside an emoji',
    message: track(`${big(126)}😀yz`, {}),
    metric: `${big(126)}😀`,
    warnings: [['metric_name', /^truncated to 127 characters/]],
  },
  {
    name: 'a string over 100 KB is truncated',
    raw: true,
    message: track('Viewed', { html: big(150_000), ok: 'short' }),
    properties: { html: big(LIMITS.stringBytes), ok: 'short' },
    warnings: [['properties.html', /^truncated properties\.html to 100000 bytes, Klaviyo's limit for one string$/]],
  },
  {
    name: 'a multi-byte string is truncated on a character boundary',
    raw: true,
    message: track('Viewed', { note: big(60_000, 'é') }),
    properties: { note: big(50_000, 'é') },
    warnings: [['properties.note', /^truncated properties\.note to 100000 bytes/]],
  },
  {
    name: '450 properties: the first 400 are kept',
    raw: true,
    message: track('Wide', Object.fromEntries(Array.from({ length: 450 }, (_, i) => [`p${i}`, i]))),
    properties: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`p${i}`, i])),
    warnings: [['properties', /^dropped 50 properties over Klaviyo's 400 per event: p400, p401, p402 and 47 more; nest related values in an object$/]],
  },
  {
    name: 'nested 15 levels: below level 10 the object is sent as JSON text',
    message: track('Deep', { d: nested(15) }),
    properties: { d: { n: { n: { n: { n: { n: { n: { n: { n: { n: JSON.stringify(nested(6)) } } } } } } } } } },
    warnings: [
      ['properties.d.n.n.n.n.n.n.n.n.n', /^sent properties\.d\.n\.n\.n\.n\.n\.n\.n\.n\.n as JSON text: Klaviyo accepts objects nested at most 10 levels deep$/],
    ],
  },
  {
    name: 'an array over 4000 items keeps the first 4000',
    raw: true,
    message: track('Many', { ids: Array.from({ length: 5000 }, (_, i) => i) }),
    properties: { ids: Array.from({ length: 4000 }, (_, i) => i) },
    warnings: [['properties.ids', /^kept the first 4000 items of properties\.ids, Klaviyo's limit for one array$/]],
  },
  {
    name: 'an event over the 5 MB request limit drops its largest properties',
    raw: true,
    message: track('Huge', { small: 1, ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`blob${i}`, big(99_000 - i)])) }),
    check: ({ requests, warnings }) => {
      const props = eventOf(requests[0]).properties;
      expect(jsonBytes(props)).toBeLessThanOrEqual(LIMITS.eventBytes);
      expect(Object.keys(props)).toEqual(['small', ...Array.from({ length: 45 }, (_, i) => `blob${i + 15}`)]);
      expect(warnings).toEqual([
        ['properties.blob0', "dropped properties.blob0, properties.blob1, properties.blob2 and 12 more: the event would exceed Klaviyo's 5 MB request limit"],
      ]);
    },
  },
  {
    name: 'a profile over 100 KB drops its largest custom properties',
    raw: true,
    message: identify({ email: 'big@example.com', bio: big(70_000), notes: big(60_000), plan: 'pro' }),
    profile: { email: 'big@example.com', external_id: 'u1', properties: { notes: big(60_000), plan: 'pro' } },
    warnings: [['properties.bio', /^dropped properties\.bio: the profile would exceed Klaviyo's 100 KB limit$/]],
  },
  {
    name: 'an event time before 2000 is dropped (Klaviyo records the receipt time)',
    message: track('Old', {}, { timestamp: '1970-01-01T00:00:01Z' }),
    check: ({ requests }) => expect(eventOf(requests[0]).time).toBeUndefined(),
    warnings: [['time', /^dropped "1970-01-01T00:00:01Z": Klaviyo accepts event times from 2000 up to a year ahead/]],
  },
  {
    name: 'an event time years ahead is dropped',
    message: track('Future', {}, { timestamp: '2999-01-01T00:00:00Z' }),
    warnings: [['time', /^dropped "2999-01-01T00:00:00Z"/]],
  },
  {
    name: 'product events obey the same limits',
    raw: true,
    message: track('Order Completed', { order_id: 'o1', products: [{ sku: 's1', description: big(120_000) }] }),
    check: ({ requests }) => {
      const events = (requests[0].body as any).data.attributes['events-bulk-create'].data[0].attributes.events.data.map((e: any) => e.attributes);
      expect(events[1].properties).toEqual({ sku: 's1', description: big(100_000), order_id: 'o1' });
    },
    warnings: [
      ['properties.products[0].description', /^truncated properties\.products\[0\]\.description to 100000 bytes/],
      ['products[0].description', /^truncated products\[0\]\.description to 100000 bytes/],
    ],
  },

  // ── Text hygiene and types ─────────────────────────────────────────────────────────────────────────────
  {
    name: 'numeric strings stay strings; a typed number field converts',
    message: track('Ordered', { zip: '02134', sku: '000123', big: '12345678901234567890', revenue: '19.90' }),
    properties: { zip: '02134', sku: '000123', big: '12345678901234567890', revenue: '19.90' },
    check: ({ requests }) => expect(eventOf(requests[0]).value).toBe(19.9),
  },
  {
    name: 'control characters are removed, newlines and tabs kept',
    message: track('Typed', { note: 'a\u0000b\u001b[31mc\u007f', text: 'line1\nline2\tend' }),
    properties: { note: 'ab[31mc', text: 'line1\nline2\tend' },
    warnings: [['properties.note', /^removed control characters .* from properties\.note$/]],
  },
  {
    name: 'lone surrogates become U+FFFD, valid pairs stay',
    message: track('Typed', { bad: 'x\uD800y', tail: 'z\uDC00', ok: '😀' }),
    properties: { bad: 'x\uFFFDy', tail: 'z\uFFFD', ok: '😀' },
    warnings: [['properties.bad', /^replaced unpaired UTF-16 surrogates with U\+FFFD in properties\.bad, properties\.tail; send valid Unicode text$/]],
  },
  {
    name: 'a control character in the event name is cleaned',
    message: track('Checkout\u0007 Started', {}),
    metric: 'Checkout Started',
    warnings: [['event', /^removed control characters/]],
  },
  {
    name: '__proto__ in properties cannot pollute',
    message: JSON.parse(`{"type":"track","messageId":"m1","userId":"u1","event":"P","properties":{"__proto__":{"polluted":true},"ok":1}}`),
    properties: { ok: 1 },
    warnings: [['properties.__proto__', /^dropped properties\.__proto__: keys named __proto__, constructor or prototype are refused/]],
    check: () => expect(({} as any).polluted).toBeUndefined(),
  },
  {
    name: '__proto__ and constructor reaching planMessage directly (no ingest) cannot pollute either',
    raw: true,
    message: JSON.parse(
      `{"type":"identify","messageId":"m1","userId":"u1","traits":{"constructor":{"prototype":{"x":1}},"__proto__":{"isAdmin":true},"plan":"pro"}}`,
    ),
    profile: { external_id: 'u1', properties: { plan: 'pro' } },
    warnings: [['traits.constructor', /^dropped traits\.constructor, traits\.__proto__: keys named/]],
    check: () => expect(({} as any).isAdmin).toBeUndefined(),
  },
  {
    name: 'zero-width, RTL and emoji text is kept as sent',
    message: identify({ firstName: 'Zoë\u200d', lastName: 'مرحبا', title: '👩‍💻 CTO' }),
    profile: { external_id: 'u1', first_name: 'Zoë\u200d', last_name: 'مرحبا', title: '👩‍💻 CTO' },
  },
  {
    name: 'unknown and non-text location keys are dropped',
    dest: custom('type = "identify"', 'upsertProfile', { external_id: { '@path': '$.userId' }, location: { '@path': '$.traits.loc' } }),
    message: identify({ loc: { city: 'NYC', zip: 10001, geo: { a: 1 }, latitude: 40.7 } }),
    profile: { external_id: 'u1', location: { city: 'NYC', zip: '10001', latitude: 40.7 } },
    warnings: [['location', /^dropped geo: Klaviyo's location takes text values/]],
  },
  {
    name: "a wrong type for a typed field is that event's error",
    message: identify({ firstName: { first: 'A' } }),
    error: ['first_name', /^first_name must be a string$/],
  },
  {
    name: 'products that are not a list fail that event only',
    message: track('Order Completed', { order_id: 'o1', products: 'p1,p2' }),
    error: ['products', /^products must be an array$/],
  },
  {
    name: 'context: null reaching planning directly is planned without context',
    raw: true,
    message: { type: 'track', messageId: 'm1', userId: 'u1', event: 'E', context: null, properties: {} },
    profile: { external_id: 'u1' },
    properties: {},
  },
  {
    name: 'hostile nesting 3000 levels deep is flattened, not a crash',
    raw: true,
    message: track('Deep', { d: nested(3000) }),
    check: ({ requests }) => expect(typeof eventOf(requests[0]).properties.d.n.n.n.n.n.n.n.n.n).toBe('string'),
    warnings: [
      [`properties.d${'.n'.repeat(31)}`, /as JSON text: nested more than 32 levels deep$/],
      ['properties.d.n.n.n.n.n.n.n.n.n', /as JSON text: Klaviyo accepts objects nested at most 10 levels deep$/],
    ],
  },
];

describe('data quality: real-world identifiers and payloads', () => {
  it('has at least 50 cases', async () => expect(CASES.length).toBeGreaterThanOrEqual(50));

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const o = await run(c.message, c.dest, c.raw);
    const { result, requests, warnings } = o;
    if (c.error) {
      expect(result.error).toEqual({ field: c.error[0], message: expect.stringMatching(c.error[1]) });
    } else {
      expect(result.error).toBeNull();
      expect(requests.length).toBeGreaterThan(0);
    }
    if (c.profile) expect(profileOf(requests[0]).attributes).toEqual(c.profile);
    if (c.profile || c.profileId) expect(profileOf(requests[0]).id).toBe(c.profileId);
    if (c.properties) expect(eventOf(requests[0]).properties).toEqual(c.properties);
    if (c.metric) expect(eventOf(requests[0]).metric.data.attributes.name).toBe(c.metric);
    if (!c.check || c.warnings) expect(warnings).toEqual((c.warnings ?? []).map(([f, m]) => [f, expect.stringMatching(m)]));
    c.check?.(o);
  });

  it('onDelete deletes by the first identifier of the documented order', async () => {
    expect(onDelete({ userId: 'u1', context: { traits: { phone: '(212) 555-0100' } } }, { defaultCountry: 'US' }).operations).toEqual([
      { kind: 'profile.delete', profile: { phone_number: '+12125550100' } },
    ]);
    expect(onDelete({ userId: 'u1', traits: { email: 'Bye@Example.com' } }, {}).operations).toEqual([
      { kind: 'profile.delete', profile: { email: 'Bye@example.com' } },
    ]);
  });
});
