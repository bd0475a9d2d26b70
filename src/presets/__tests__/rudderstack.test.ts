/** The rudderstack preset: seeds 002 and 004 (RudderStack's Klaviyo destination, apiVersion v1 and v2) on the 2026-07-15 API. */
import { describe, expect, it } from 'vitest';
import { compileDestination } from '../../destination/index.js';
import { PresetSettingsError, getPreset } from '../index.js';
import type { PlannedOperation } from '../../klaviyo/operations.js';
import { destination, plan, POLL, requests, requestsOf } from './helpers.js';

// Seed 004's identify, track and group examples, as RudderStack's SDKs send them.
const IDENTIFY = {
  type: 'identify',
  sentAt: '2021-01-03T17:02:53.195Z',
  userId: '1hKOmRA4el9Z',
  rudderId: 'w226lhkncvr182fc1ywq4xdo457min899rva',
  messageId: 't7z7ods5xkzgqg5m3a9r3104jyele9aogx9f',
  context: {
    externalId: [{ type: 'klaviyo-profileId', id: 'klaviyoID' }],
    traits: {
      firstName: 'Alex',
      lastName: 'Keener',
      email: 'alex@example.com',
      phone: '+12 345 578 900',
      title: 'Developer',
      organization: 'Example Co.',
      city: 'New Orleans',
      region: 'Louisiana',
      country: 'US',
      zip: '100-0001',
      Flagged: false,
      Residence: '31, North Avenue',
      street: 'Blue Gum Street',
      properties: { listId: 'XUepkK', subscribe: true, consent: ['email', 'sms'] },
    },
  },
  anonymousId: '97c46c81-3140-456d-b2a9-690d70aaca35',
  originalTimestamp: '2021-01-03T17:02:53.193Z',
};
const TRACK = {
  type: 'track',
  sentAt: '2021-01-25T16:12:02.048Z',
  userId: '1hKOmRA4el9Z',
  event: 'Sample Event',
  context: {
    traits: {
      firstName: 'Alex',
      lastName: 'Keener',
      email: 'alex@example.com',
      title: 'Developer',
      organization: 'Example Co.',
      city: 'New Orleans',
      region: 'Louisiana',
      country: 'US',
      zip: '100-0001',
      Flagged: false,
      Residence: '31, North Avenue',
      street: 'Blue Gum Street',
    },
  },
  properties: { PreviouslVicePresident: true, YearElected: 1801, VicePresidents: ['AaronBurr', 'GeorgeClinton'], revenue: 3000, currency: 'USD' },
  rudderId: 're515f91ynjf62i3h98g52ao6w8qm7vmg94s',
  messageId: '5vs9plymaxu4zfh40cmqca7r220y3wzb2giu',
  anonymousId: '9c6bd77ea9da3e68',
  originalTimestamp: '2021-01-25T15:32:56.409Z',
};
const GROUP = {
  channel: 'web',
  userId: '1hKOmRA4el9Z',
  type: 'group',
  groupId: 'group123',
  traits: { subscribe: true },
  context: { externalId: [{ type: 'klaviyo-profileId', id: 'klaviyoID' }], traits: { email: 'alex@example.com', consent: ['email'] } },
  timestamp: '2020-01-21T00:21:34.208Z',
  anonymousId: 'jzfsz147d02cil0gqz6rkg7mtou10dovcwia',
  originalTimestamp: '2019-10-14T09:03:17.562Z',
};

/** What v2 sends for TRACK (seed 004's example): one event; `profileMeta` goes beside the event profile's attributes. */
const trackRequest = (profileMeta: Record<string, unknown> = {}) => ({
  method: 'POST',
  path: '/api/events',
  body: {
    data: {
      type: 'event',
      attributes: {
        properties: { PreviouslVicePresident: true, YearElected: 1801, VicePresidents: ['AaronBurr', 'GeorgeClinton'] },
        time: '2021-01-25T15:32:56.409Z',
        value: 3000,
        value_currency: 'USD',
        unique_id: '5vs9plymaxu4zfh40cmqca7r220y3wzb2giu',
        backfill: true, // ours: a 2021 event is a backfill (docs/backfill-and-push.md)
        metric: { data: { type: 'metric', attributes: { name: 'Sample Event' } } },
        profile: {
          data: {
            type: 'profile',
            attributes: {
              email: 'alex@example.com',
              external_id: '1hKOmRA4el9Z',
              first_name: 'Alex',
              last_name: 'Keener',
              organization: 'Example Co.',
              title: 'Developer',
              location: { address1: 'Blue Gum Street', city: 'New Orleans', region: 'Louisiana', country: 'US', zip: '100-0001' },
              properties: { Flagged: false, Residence: '31, North Avenue' },
              anonymous_id: '9c6bd77ea9da3e68',
              ...profileMeta,
            },
          },
        },
      },
    },
  },
});
const v2 = destination('rudderstack', { privateApiKey: 'pk_test', apiVersion: 'v2' });
const v1 = destination('rudderstack', { privateApiKey: 'pk_test', apiVersion: 'v1' });
const subscribeJob = (listId: string, profiles: unknown[]) => ({
  method: 'POST',
  path: '/api/profile-subscription-bulk-create-jobs',
  body: {
    data: {
      type: 'profile-subscription-bulk-create-job',
      attributes: { profiles: { data: profiles } },
      relationships: { list: { data: { type: 'list', id: listId } } },
    },
  },
});
const marketing = (...channels: string[]) => Object.fromEntries(channels.map((c) => [c, { marketing: { consent: 'SUBSCRIBED' } }]));
const event = (reqs: { body: any }[]) => reqs[0].body.data.attributes;

describe('identify (seed 004)', () => {
  it('v2: profile-import with the Klaviyo profile id, then a subscription to traits.properties.listId with the consented channels', async () => {
    expect(await requests(v2, IDENTIFY)).toEqual([
      {
        method: 'POST',
        path: '/api/profile-import',
        body: {
          data: {
            type: 'profile',
            id: 'klaviyoID',
            attributes: {
              email: 'alex@example.com',
              phone_number: '+12345578900',
              external_id: '1hKOmRA4el9Z',
              first_name: 'Alex',
              last_name: 'Keener',
              organization: 'Example Co.',
              title: 'Developer',
              location: { address1: 'Blue Gum Street', city: 'New Orleans', region: 'Louisiana', country: 'US', zip: '100-0001' },
              // profile-import has no anonymous_id attribute on 2026-07-15: it is kept as a custom property.
              properties: { Flagged: false, Residence: '31, North Avenue', anonymous_id: '97c46c81-3140-456d-b2a9-690d70aaca35' },
            },
          },
        },
      },
      subscribeJob('XUepkK', [
        { type: 'profile', attributes: { email: 'alex@example.com', phone_number: '+12345578900', subscriptions: marketing('email', 'sms') } },
      ]),
    ]);
  });

  it('v1: no profile id, anonymousId not sent, and the traits v1 does not map (street) stay custom properties', async () => {
    const [profile, subscribe] = await requests(v1, IDENTIFY);
    expect(profile.body.data.id).toBeUndefined();
    expect(profile.body.data.attributes.properties).toEqual({ Flagged: false, Residence: '31, North Avenue', street: 'Blue Gum Street' });
    expect(profile.body.data.attributes.external_id).toBe('1hKOmRA4el9Z');
    expect(subscribe.path).toBe('/api/profile-subscription-bulk-create-jobs');
  });

  it('reads traits before context.traits, maps address, image, _kx and location from context', async () => {
    const [profile] = await requests(v2, {
      type: 'identify',
      userId: 'u1',
      traits: {
        email: 'a@x.co',
        first_name: 'Ann',
        image: 'https://x/a.png',
        _kx: 'kx123',
        address: { street: '1 Main', city: 'Paris', country: 'FR', postalCode: '75001', region: 'IDF' },
        timezone: 'Europe/Paris',
      },
      context: { ip: '10.0.0.1', location: { latitude: 48.85, longitude: 2.35 }, traits: { email: 'other@x.co', first_name: 'Other' } },
    });
    expect(profile.body.data.attributes).toEqual({
      email: 'a@x.co',
      external_id: 'u1',
      _kx: 'kx123',
      first_name: 'Ann',
      image: 'https://x/a.png',
      location: {
        address1: '1 Main',
        city: 'Paris',
        region: 'IDF',
        country: 'FR',
        zip: '75001',
        timezone: 'Europe/Paris',
        ip: '10.0.0.1',
        latitude: 48.85,
        longitude: 2.35,
      },
    });
  });

  it('listId setting: used when the traits name none; no list anywhere means no subscription', async () => {
    const d = destination('rudderstack', { apiVersion: 'v2', listId: 'DEFAULT' });
    const traits = { email: 'a@x.co', properties: { subscribe: true } };
    expect((await requests(d, { type: 'identify', userId: 'u1', traits })).map((r) => r.body.data.relationships?.list.data.id)).toEqual([undefined, 'DEFAULT']);
    expect((await requests(v2, { type: 'identify', userId: 'u1', traits })).map((r) => r.path)).toEqual(['/api/profile-import']);
  });

  it('subscribe: false — v2 unsubscribes both identifiers from the list, v1 does nothing', async () => {
    const m = { type: 'identify', userId: 'u1', traits: { email: 'a@x.co', phone: '+14155550100', properties: { listId: 'L1', subscribe: false } } };
    expect((await requests(v2, m))[1]).toEqual({
      method: 'POST',
      path: '/api/profile-subscription-bulk-delete-jobs',
      body: {
        data: {
          type: 'profile-subscription-bulk-delete-job',
          attributes: {
            profiles: {
              data: [
                {
                  type: 'profile',
                  attributes: {
                    email: 'a@x.co',
                    phone_number: '+14155550100',
                    subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } }, sms: { marketing: { consent: 'UNSUBSCRIBED' } } },
                  },
                },
              ],
            },
          },
          relationships: { list: { data: { type: 'list', id: 'L1' } } },
        },
      },
    });
    expect((await requests(v1, m)).map((r) => r.path)).toEqual(['/api/profile-import']);
  });

  it('consent setting (default ["email"]): only consented channels are subscribed; the message’s consent overrides it; smsConsent adds sms', async () => {
    const m = (properties: Record<string, unknown>) => ({
      type: 'identify',
      userId: 'u1',
      traits: { email: 'a@x.co', phone: '+14155550100', properties: { listId: 'L1', subscribe: true, ...properties } },
    });
    const channels = async (d: ReturnType<typeof destination>, props = {}) =>
      Object.keys((await requests(d, m(props)))[1].body.data.attributes.profiles.data[0].attributes.subscriptions);
    expect(await channels(v2)).toEqual(['email']);
    expect(await channels(destination('rudderstack', { apiVersion: 'v2', consent: ['sms'] }))).toEqual(['sms']);
    expect(await channels(destination('rudderstack', { apiVersion: 'v2', consent: 'sms' }))).toEqual(['sms']); // RudderStack's older single-value form
    expect(await channels(destination('rudderstack', { apiVersion: 'v2', smsConsent: true }))).toEqual(['email', 'sms']);
    expect(await channels(v2, { consent: ['sms'] })).toEqual(['sms']);
    expect(await channels(v1, { consent: ['email', 'sms'] })).toEqual(['email', 'sms']);
  });

  it('a consent with no matching identifier: the profile goes, the subscription is left out with a warning', async () => {
    const r = plan(destination('rudderstack', { apiVersion: 'v2', consent: ['sms'] }), {
      type: 'identify',
      userId: 'u1',
      traits: { email: 'a@x.co', properties: { listId: 'L1', subscribe: true } },
    });
    expect(r.error).toBeNull();
    expect((await requestsOf(r.operations)).map((q) => q.path)).toEqual(['/api/profile-import']);
    expect(r.warnings).toEqual([
      { field: 'traits.properties.subscribe', message: 'cannot subscribe to list L1: consent [sms] names no channel whose identifier is in the message' },
    ]);
  });

  it('enforceEmailAsPrimary: no external_id, the userId as the custom property _id; v1 refuses a call with neither email nor phone', async () => {
    const m = { type: 'identify', userId: 'u1', traits: { email: 'a@x.co', plan: 'pro' } };
    for (const apiVersion of ['v1', 'v2']) {
      const [profile] = await requests(destination('rudderstack', { apiVersion, enforceEmailAsPrimary: true }), m);
      expect(profile.body.data.attributes).toEqual({ email: 'a@x.co', properties: { plan: 'pro', _id: 'u1' } });
    }
    const r = plan(destination('rudderstack', { apiVersion: 'v1', enforceEmailAsPrimary: true }), { type: 'identify', userId: 'u1', traits: { plan: 'pro' } });
    expect(r.error).toEqual({ field: 'email', message: 'enforceEmailAsPrimary is on and the message has neither an email nor a phone' });
    expect(r.operations).toEqual([]);
  });

  it('anonymous users: v1 keys them by anonymousId as external_id, v2 sends anonymous_id (on events) and no external_id', async () => {
    const m = { type: 'track', anonymousId: 'anon-1', event: 'Viewed', context: { traits: { email: 'a@x.co' } } };
    expect(event(await requests(v1, m)).profile.data.attributes).toEqual({ email: 'a@x.co', external_id: 'anon-1' });
    expect(event(await requests(v2, m)).profile.data.attributes).toEqual({ email: 'a@x.co', anonymous_id: 'anon-1' });
    expect((await requests(v1, { type: 'identify', anonymousId: 'anon-1', traits: { plan: 'x' } }))[0].body.data.attributes.external_id).toBe('anon-1');
    expect(plan(v2, { type: 'identify', anonymousId: 'anon-1', traits: { plan: 'x' } }).error?.field).toBe('email'); // profile-import needs a real identifier
  });

  it('flattenProperties: nested custom traits and event properties become dot keys; arrays of values stay arrays', async () => {
    const d = destination('rudderstack', { apiVersion: 'v2', flattenProperties: true });
    const nested = { prefs: { color: 'red', sizes: ['S', 'M'] }, orders: [{ id: 1 }], empty: {} };
    const [profile] = await requests(d, { type: 'identify', userId: 'u1', traits: { email: 'a@x.co', ...nested } });
    expect(profile.body.data.attributes.properties).toEqual({ 'prefs.color': 'red', 'prefs.sizes': ['S', 'M'], 'orders[0].id': 1, empty: {} });
    const ev = event(await requests(d, { type: 'track', userId: 'u1', event: 'E', properties: nested, context: { traits: { email: 'a@x.co', ...nested } } }));
    expect(ev.properties).toEqual({ 'prefs.color': 'red', 'prefs.sizes': ['S', 'M'], 'orders[0].id': 1, empty: {} });
    expect(ev.profile.data.attributes.properties).toEqual({ 'prefs.color': 'red', 'prefs.sizes': ['S', 'M'], 'orders[0].id': 1, empty: {} });
  });
});

// RudderStack's own example of the v2 metadata operations (seed 002, "Metadata Operations (V2 API)").
const PATCHING = {
  type: 'identify',
  userId: 'user-p',
  context: {
    externalId: [{ type: 'klaviyo-profileId', id: '12345678' }],
    traits: {
      email: 'p@example.com',
      keep: 1,
      appendList1: 'New Value 1',
      appendList2: 'New Value 2',
      unappendList1: 'Old Value 1',
      unappendList2: 'Old Value 2',
    },
  },
  integrations: {
    Klaviyo: { fieldsToUnset: ['Unset1', 'Unset2'], fieldsToAppend: ['appendList1', 'appendList2'], fieldsToUnappend: ['unappendList1', 'unappendList2'] },
    All: true,
  },
};
const PATCH = {
  append: { appendList1: 'New Value 1', appendList2: 'New Value 2' },
  unappend: { unappendList1: 'Old Value 1', unappendList2: 'Old Value 2' },
  unset: ['Unset1', 'Unset2'],
};

describe('v2 integrations.Klaviyo.fieldsToUnset / fieldsToAppend / fieldsToUnappend (seed 002) → meta.patch_properties', () => {
  it('identify: unset the names, append / unappend {name: trait value}; those traits are not custom properties', async () => {
    const r = plan(v2, PATCHING);
    expect(r.error).toBeNull();
    expect(r.warnings).toEqual([]);
    expect(await requestsOf(r.operations)).toEqual([
      {
        method: 'POST',
        path: '/api/profile-import',
        body: {
          data: {
            type: 'profile',
            id: '12345678',
            attributes: { email: 'p@example.com', external_id: 'user-p', properties: { keep: 1 } },
            meta: { patch_properties: PATCH },
          },
        },
      },
    ]);
  });

  it('reads traits, else context.traits, as the original; a name without a value is only left out, and no patch means no meta', async () => {
    const r = plan(v2, {
      type: 'identify',
      userId: 'u1',
      traits: { email: 'a@x.co', tags: 'new', old: 'x', keep: 1 },
      context: { traits: { gone: 'ctx' } },
      integrations: { Klaviyo: { fieldsToAppend: ['tags', 'gone'], fieldsToUnappend: ['missing'] } },
    });
    const body = (await requestsOf(r.operations))[0].body.data;
    expect(body.attributes.properties).toEqual({ old: 'x', keep: 1 }); // gone (context.traits) is left out too
    expect(body.meta).toEqual({ patch_properties: { append: { tags: 'new' } } });
    const none = plan(v2, { type: 'identify', userId: 'u1', traits: { email: 'a@x.co' }, integrations: { Klaviyo: { fieldsToAppend: ['tags'] } } });
    expect((await requestsOf(none.operations))[0].body.data.meta).toBeUndefined();
    expect(none.warnings).toEqual([]);
  });

  it('v1 has no metadata operations: the traits stay custom properties, nothing is patched', async () => {
    const body = (await requestsOf(plan(v1, PATCHING).operations))[0].body.data;
    expect(body.meta).toBeUndefined();
    expect(body.attributes.properties).toMatchObject({ appendList1: 'New Value 1', unappendList2: 'Old Value 2' });
  });

  it(
    'track (seed 004’s example with seed 002’s integrations object): the patch ' + 'rides inside the event profile’s attributes, as the original sends it',
    async () => {
      const traits = {
        ...TRACK.context.traits,
        appendList1: 'New Value 1',
        appendList2: 'New Value 2',
        unappendList1: 'Old Value 1',
        unappendList2: 'Old Value 2',
      };
      const r = plan(v2, { ...TRACK, context: { traits }, integrations: PATCHING.integrations });
      expect(r.error).toBeNull();
      expect(r.warnings).toEqual([]);
      // requestsOf checks the body against the 2026-07-15 spec in strict mode: EventProfileCreateQueryResourceObject
      // declares `meta` inside `attributes` (POST /api/events).
      expect(await requestsOf(r.operations)).toEqual([trackRequest({ meta: { patch_properties: PATCH } })]);
    },
  );

  it('screen and page (sendPageAsTrack) patch the event profile too; a name without a value is only left out; no patch means no meta', async () => {
    const d = destination('rudderstack', { apiVersion: 'v2', sendPageAsTrack: true });
    const integrations = { Klaviyo: { fieldsToAppend: ['tags', 'missing'], fieldsToUnset: ['old'] } };
    for (const type of ['screen', 'page']) {
      const r = plan(d, { type, userId: 'u1', name: 'Home', context: { traits: { email: 'a@x.co', tags: 'new', keep: 1, missing: null } }, integrations });
      expect(r.warnings).toEqual([]);
      const profile = event(await requestsOf(r.operations)).profile.data;
      expect(profile.attributes.properties).toEqual({ keep: 1 });
      expect(profile.attributes.meta).toEqual({ patch_properties: { unset: ['old'], append: { tags: 'new' } } });
    }
    const none = plan(v2, {
      type: 'track',
      userId: 'u1',
      event: 'E',
      context: { traits: { email: 'a@x.co', keep: 1 } },
      integrations: { Klaviyo: { fieldsToAppend: ['tags'] } },
    });
    expect(event(await requestsOf(none.operations)).profile.data.attributes).not.toHaveProperty('meta');
    expect(none.warnings).toEqual([]);
  });

  it('v1 track: no metadata operations, the traits stay the event profile’s custom properties, nothing is patched', async () => {
    const r = plan(v1, { ...TRACK, context: { traits: { ...TRACK.context.traits, tags: 'new' } }, integrations: { Klaviyo: { fieldsToAppend: ['tags'] } } });
    const profile = event(await requestsOf(r.operations)).profile.data;
    expect(profile.attributes.meta).toBeUndefined();
    expect(profile.attributes.properties).toMatchObject({ tags: 'new' });
    expect(r.operations[0].op).not.toHaveProperty('patchProperties');
  });

  it(
    'coalesced events: each profile’s patch beside its attributes in the bulk event ' +
      'job; a profile’s patching event never shares a job with its other events',
    async () => {
      const track = (email: string, i: number, Klaviyo?: Record<string, unknown>) => ({
        type: 'track',
        userId: email,
        event: `E${i}`,
        messageId: `t${i}`,
        context: { traits: { email, tags: `v${i}` } },
        ...(Klaviyo ? { integrations: { Klaviyo } } : {}),
      });
      const msgs = [
        track('a@x.co', 1, { fieldsToAppend: ['tags'] }),
        track('b@x.co', 2, { fieldsToAppend: ['tags'] }),
        track('a@x.co', 3),
        track('c@x.co', 4),
        track('a@x.co', 5, { fieldsToUnappend: ['tags'] }),
      ];
      const ops: PlannedOperation[] = msgs.flatMap((m) => plan(v2, m).operations);
      const reqs = await requestsOf(ops); // each valid in strict mode: OnsiteProfileCreateQueryResourceObject declares `meta` beside `attributes`
      const show = (r: { path: string; body: any }) =>
        r.path === '/api/events'
          ? [
              [
                r.body.data.attributes.profile.data.attributes.email,
                r.body.data.attributes.metric.data.attributes.name,
                r.body.data.attributes.profile.data.attributes.meta?.patch_properties ?? null,
              ],
            ]
          : r.body.data.attributes['events-bulk-create'].data.map((e: any) => [
              e.attributes.profile.data.attributes.email,
              e.attributes.events.data.map((x: any) => x.attributes.metric.data.attributes.name).join(','),
              e.attributes.profile.data.meta?.patch_properties ?? null,
            ]);
      // a@x.co: E1 appends to tags, E3's profile sets tags (no patch: a custom property), E5 unappends — three requests, in order.
      expect(reqs.map((r) => r.path)).toEqual(['/api/event-bulk-create-jobs', '/api/events', '/api/events']);
      expect(reqs[1].body.data.attributes.profile.data.attributes.properties).toEqual({ tags: 'v3' });
      expect(reqs.map(show)).toEqual([
        [
          ['a@x.co', 'E1', { append: { tags: 'v1' } }],
          ['b@x.co', 'E2', { append: { tags: 'v2' } }],
          ['c@x.co', 'E4', null],
        ],
        [['a@x.co', 'E3', null]],
        [['a@x.co', 'E5', { unappend: { tags: 'v5' } }]],
      ]);
      expect(reqs[0].body.data.attributes['events-bulk-create'].data[0].attributes.profile.data).toEqual({
        type: 'profile',
        attributes: { email: 'a@x.co', external_id: 'a@x.co' },
        meta: { patch_properties: { append: { tags: 'v1' } } },
      });
    },
  );

  it(
    'coalesced: patches ride in the bulk import job, one per profile, and a profile’s ' + 'patching upsert never shares a request with its other upserts',
    async () => {
      const msgs = [
        { type: 'identify', userId: 'a', traits: { email: 'a@x.co', tags: ['x'] } },
        { type: 'identify', userId: 'b', traits: { email: 'b@x.co', tags: 'y' }, integrations: { Klaviyo: { fieldsToAppend: ['tags'] } } },
        { type: 'identify', userId: 'a', traits: { email: 'a@x.co', tags: 'z' }, integrations: { Klaviyo: { fieldsToAppend: ['tags'] } } },
        { type: 'identify', userId: 'a', traits: { email: 'a@x.co', first_name: 'A' } },
        { type: 'identify', userId: 'b', traits: { email: 'b@x.co' }, integrations: { Klaviyo: { fieldsToUnset: ['tags'] } } },
      ];
      const ops: PlannedOperation[] = msgs.flatMap((m, i) => plan(v2, { ...m, messageId: `p${i}` }).operations);
      const reqs = await requestsOf(ops); // each valid in strict mode
      const show = (r: { path: string; body: any }) =>
        r.path === '/api/profile-import'
          ? [[r.body.data.attributes.email, r.body.data.meta?.patch_properties ?? null]]
          : r.body.data.attributes.profiles.data.map((p: any) => [p.attributes.email, p.meta?.patch_properties ?? null]);
      expect(reqs.map((r) => r.path)).toEqual(['/api/profile-bulk-import-jobs', POLL, '/api/profile-bulk-import-jobs', POLL, '/api/profile-import']);
      expect(reqs.filter((r) => r.method !== 'GET').map(show)).toEqual([
        [
          ['a@x.co', null],
          ['b@x.co', { append: { tags: 'y' } }],
        ],
        [
          ['a@x.co', { append: { tags: 'z' } }],
          ['b@x.co', { unset: ['tags'] }],
        ],
        [['a@x.co', null]],
      ]);
    },
  );
});

describe('track, screen, page (seeds 002, 004)', () => {
  it('v2 (seed 004 example): value from revenue, value_currency from currency, both out of properties; unique_id is the messageId', async () => {
    expect(await requests(v2, TRACK)).toEqual([trackRequest()]);
  });

  it('v1: currency stays a property, revenue || total || value is the value; the event profile has v1’s fields only', async () => {
    const ev = event(await requests(v1, TRACK));
    expect(ev.properties).toEqual({ PreviouslVicePresident: true, YearElected: 1801, VicePresidents: ['AaronBurr', 'GeorgeClinton'], currency: 'USD' });
    expect(ev.value).toBe(3000);
    expect(ev.value_currency).toBeUndefined();
    expect(Object.keys(ev.profile.data.attributes).sort()).toEqual(['email', 'external_id', 'first_name', 'last_name', 'location', 'properties']);
    expect(event(await requests(v1, { ...TRACK, properties: { total: '12.5' } })).value).toBe(12.5);
  });

  it('v1 ecommerce events are renamed and their properties mapped (seed 002); v2 sends them as they are', async () => {
    const viewed = event(
      await requests(v1, {
        type: 'track',
        userId: 'u1',
        event: ' Product Viewed ',
        properties: { name: 'Shoe', product_id: 'p1', sku: 'S1', price: 9.5, url: 'https://x/p1', color: 'red' },
      }),
    );
    expect(viewed.metric.data.attributes.name).toBe('Viewed Product');
    expect(viewed.properties).toEqual({ ProductName: 'Shoe', ProductID: 'p1', SKU: 'S1', URL: 'https://x/p1', Price: 9.5, color: 'red' });
    expect(event(await requests(v1, { type: 'track', userId: 'u1', event: 'product clicked', properties: { sku: 'S1' } })).metric.data.attributes.name).toBe(
      'Viewed Product',
    );

    const added = event(
      await requests(v1, { type: 'track', userId: 'u1', event: 'Product Added', properties: { name: 'Shoe', product_id: 'p1', quantity: 2, value: 19 } }),
    );
    expect([added.metric.data.attributes.name, added.value, added.properties]).toEqual([
      'Added to Cart',
      19,
      { AddedItemProductName: 'Shoe', AddedItemProductID: 'p1', AddedItemQuantity: 2 },
    ]);

    const checkout = event(
      await requests(v1, {
        type: 'track',
        userId: 'u1',
        messageId: 'm-checkout',
        event: 'Checkout Started',
        properties: {
          order_id: 'o1',
          value: 30,
          checkout_url: 'https://x/c',
          products: [{ product_id: 'p1', name: 'Shoe', price: 10, quantity: 3, brand: 'X' }, {}],
          coupon: 'SAVE',
        },
      }),
    );
    expect(checkout.metric.data.attributes.name).toBe('Started Checkout');
    expect(checkout.unique_id).toBe('o1'); // $event_id
    expect(checkout.value).toBe(30); // $value
    expect(checkout.properties).toEqual({
      CheckoutURL: 'https://x/c',
      items: [{ ProductID: 'p1', ProductName: 'Shoe', Quantity: 3, ItemPrice: 10 }],
      coupon: 'SAVE',
    });

    expect(event(await requests(v2, { type: 'track', userId: 'u1', event: 'Product Viewed', properties: { sku: 'S1' } })).metric.data.attributes.name).toBe(
      'Product Viewed',
    );
  });

  it('screen: the screen name is the event (v1 prefers properties.name)', async () => {
    const m = { type: 'screen', userId: 'u1', name: 'Home', properties: { name: 'Home screen', tab: 2 } };
    expect(event(await requests(v2, m)).metric.data.attributes.name).toBe('Home');
    expect(event(await requests(v1, m)).metric.data.attributes.name).toBe('Home screen');
  });

  it('page: nothing unless sendPageAsTrack; then "Viewed [category] <name> page", with the properties only with additionalPageInfo', async () => {
    const m = { type: 'page', userId: 'u1', name: 'Pricing', properties: { category: 'Docs', url: 'https://x/pricing' } };
    const r = plan(v2, m);
    expect([r.actions, r.operations, r.error]).toEqual([[], [], null]);
    const asTrack = destination('rudderstack', { apiVersion: 'v2', sendPageAsTrack: true });
    expect(event(await requests(asTrack, m))).toMatchObject({ metric: { data: { attributes: { name: 'Viewed Docs Pricing page' } } }, properties: {} });
    expect(event(await requests(asTrack, { ...m, properties: {} })).metric.data.attributes.name).toBe('Viewed Pricing page');
    expect(event(await requests(asTrack, { type: 'page', userId: 'u1' })).metric.data.attributes.name).toBe('Viewed a Page');
    const withInfo = destination('rudderstack', { apiVersion: 'v2', sendPageAsTrack: true, additionalPageInfo: true });
    expect(event(await requests(withInfo, m)).properties).toEqual({ category: 'Docs', url: 'https://x/pricing' });
  });

  it('eventFilteringOption: track calls only, names trimmed and compared case-sensitively; filtered calls send nothing and are no error', async () => {
    const names = (d: ReturnType<typeof destination>) =>
      ['Signed Up', ' Signed Up ', 'signed up', 'Other'].map((e) => plan(d, { type: 'track', userId: 'u1', event: e }).operations.length);
    const white = destination('rudderstack', { apiVersion: 'v2', eventFilteringOption: 'whitelistedEvents', whitelistedEvents: [{ eventName: 'Signed Up ' }] });
    const black = destination('rudderstack', { apiVersion: 'v2', eventFilteringOption: 'blacklistedEvents', blacklistedEvents: ['Signed Up'] });
    expect(names(white)).toEqual([1, 1, 0, 0]);
    expect(names(black)).toEqual([0, 0, 1, 1]);
    expect(names(destination('rudderstack', { apiVersion: 'v2', eventFilteringOption: 'disable', blacklistedEvents: ['Signed Up'] }))).toEqual([1, 1, 1, 1]);
    expect(plan(white, { type: 'identify', userId: 'u1', traits: { email: 'a@x.co' } }).operations).toHaveLength(1);
    expect(plan(white, { type: 'track', userId: 'u1', event: 'Other' }).error).toBeNull();
  });

  it('the Klaviyo profile id (context.externalId type klaviyo-profileId) goes on v2 event profiles', async () => {
    const ev = event(
      await requests(v2, {
        ...TRACK,
        context: {
          ...TRACK.context,
          externalId: [
            { type: 'other', id: 'x' },
            { type: 'klaviyo-profileId', id: '01HPROFILE' },
          ],
        },
      }),
    );
    expect(ev.profile.data.id).toBe('01HPROFILE');
  });
});

describe('group (seed 004)', () => {
  it('subscribes the user to the list in groupId with the consented channels and traits.custom_source', async () => {
    expect(await requests(v2, GROUP)).toEqual([
      subscribeJob('group123', [{ type: 'profile', attributes: { email: 'alex@example.com', subscriptions: marketing('email') } }]),
    ]);
    const [job] = await requests(v2, { ...GROUP, traits: { subscribe: true, custom_source: 'signup-form' } });
    expect(job.body.data.attributes.custom_source).toBe('signup-form');
  });

  it('subscribe: false unsubscribes (v2); v1 and a missing flag are refused, naming traits.subscribe', async () => {
    expect((await requests(v2, { ...GROUP, traits: { subscribe: false } }))[0].path).toBe('/api/profile-subscription-bulk-delete-jobs');
    expect(plan(v1, { ...GROUP, traits: { subscribe: false } }).error?.field).toBe('traits.subscribe');
    expect(plan(v2, { ...GROUP, traits: {} }).error).toEqual({
      field: 'traits.subscribe',
      message: 'a group call needs traits.subscribe: true subscribes to the list in groupId, false unsubscribes',
    });
    expect((await requests(v1, GROUP))[0].path).toBe('/api/profile-subscription-bulk-create-jobs');
  });

  it('a group call with no identifier for its channels fails: subscribing is all it does', async () => {
    expect(plan(v2, { ...GROUP, context: { traits: { phone: '+14155550100' } } }).error).toEqual({
      field: 'consent',
      message: 'cannot subscribe to list group123: consent [email] names no channel whose identifier is in the message',
    });
  });
});

describe('batched delivery', () => {
  it('keeps RudderStack’s order for one user’s consecutive events of different types (seed 002’s example)', async () => {
    const msgs: [string, Record<string, unknown>][] = [
      ['user1', { type: 'track', userId: 'user1', event: 'track1', context: { traits: { email: 'u1@x.co' } } }],
      ['user1', { type: 'identify', userId: 'user1', traits: { email: 'u1@x.co' } }],
      ['user1', { type: 'track', userId: 'user1', event: 'track2', context: { traits: { email: 'u1@x.co' } } }],
      ['user2', { type: 'identify', userId: 'user2', traits: { email: 'u2@x.co' } }],
      ['user2', { type: 'track', userId: 'user2', event: 'track1', context: { traits: { email: 'u2@x.co' } } }],
      ['user1', { type: 'track', userId: 'user1', event: 'track3', context: { traits: { email: 'u1@x.co' } } }],
    ];
    // The queue partitions by user (userId, else anonymousId); the worker tags each operation with it.
    const ops: PlannedOperation[] = msgs.flatMap(([user, m], i) =>
      plan(v2, { ...m, messageId: `job${i + 1}` }).operations.map((op) => ({ ...op, partition: user })),
    );
    const reqs = await requestsOf(ops);
    // Input 1..6 → [1], [2, 4], [3, 5, 6], as RudderStack's router groups them.
    expect(reqs.map((r) => r.path)).toEqual(['/api/events', '/api/profile-bulk-import-jobs', POLL, '/api/event-bulk-create-jobs']);
    expect(reqs[1].body.data.attributes.profiles.data.map((p: any) => p.attributes.email)).toEqual(['u1@x.co', 'u2@x.co']);
    const names = reqs[3].body.data.attributes['events-bulk-create'].data.flatMap((e: any) =>
      e.attributes.events.data.map((x: any) => `${e.attributes.profile.data.attributes.email} ${x.attributes.metric.data.attributes.name}`),
    );
    expect(names).toEqual(['u1@x.co track2', 'u1@x.co track3', 'u2@x.co track1']);
  });

  it('every request of a mixed run, each setting on, is valid against the spec', async () => {
    const all = {
      listId: 'L1',
      consent: ['email', 'sms'],
      enforceEmailAsPrimary: true,
      flattenProperties: true,
      sendPageAsTrack: true,
      additionalPageInfo: true,
    };
    const msgs = [
      IDENTIFY,
      TRACK,
      { ...TRACK, integrations: PATCHING.integrations, context: { traits: { ...TRACK.context.traits, appendList1: 'x' } } },
      PATCHING,
      GROUP,
      { type: 'page', userId: 'u9', name: 'Home', properties: { category: 'Top', a: { b: 1 } }, context: { traits: { email: 'u9@x.co' } } },
      { type: 'screen', userId: 'u9', name: 'Cart', context: { traits: { email: 'u9@x.co' } } },
    ];
    for (const apiVersion of ['v1', 'v2']) {
      const d = destination('rudderstack', { ...all, apiVersion });
      const ops = msgs.flatMap((m, i) => plan(d, { ...m, messageId: `x${i}` }).operations);
      expect(ops.length).toBeGreaterThanOrEqual(6);
      await requestsOf(ops); // coalesced
      for (const op of ops) await requestsOf([op]); // one by one
    }
  });
});

describe('settings (RudderStack’s names), checked at startup', () => {
  it('accepts a config pasted from RudderStack, dashboard-only keys included', async () => {
    expect(() =>
      getPreset('rudderstack', {
        privateApiKey: 'pk',
        publicApiKey: 'Pub',
        apiVersion: 'v1',
        useNativeSDK: { web: false },
        connectionMode: { web: 'cloud' },
        consentManagement: [],
        oneTrustCookieCategories: {},
        ketchConsentPurposes: {},
        whitelistedEvents: [{ eventName: '' }],
      }),
    ).not.toThrow();
  });

  it('names each bad setting', async () => {
    const err = (settings: Record<string, unknown>) => {
      try {
        compileDestination({ preset: 'rudderstack', settings });
      } catch (e) {
        expect(e).toBeInstanceOf(PresetSettingsError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err({ apiVersion: 'v4' })).toContain('apiVersion: apiVersion must be "v1", "v2" or "v3"');
    expect(err({ consent: ['push'] })).toContain('consent: consent must be "email", "sms" or a list of them');
    expect(err({ listid: 'L1' })).toContain('  - listid: Unrecognized key "listid"; did you mean "listId"?');
    expect(err({ flattenProperty: true, sendPageAsTrak: true })).toMatch(
      /flattenProperty: .*did you mean "flattenProperties"\?\n.*sendPageAsTrak: .*did you mean "sendPageAsTrack"\?/,
    );
    // Nothing near: the known keys are listed instead.
    expect(err({ region: 'eu' })).toMatch(/region: Unrecognized key "region" \(known: apiVersion, privateApiKey, listId, .*useNewKlaviyoRevisionVersion\)/);
    expect(err({ flattenProperties: 'yes', eventFilteringOption: 'allow' })).toMatch(/flattenProperties: .*\n.*eventFilteringOption/);
  });
});

// Issue 16: configs as RudderStack stores them, v3, screen calls, value, Reverse ETL records.
describe('configs as RudderStack stores them', () => {
  it('no apiVersion means v1, as RudderStack reads a destination saved before the field existed; the summary says so', async () => {
    const none = destination('rudderstack', { privateApiKey: 'pk_test' });
    // v1: anonymousId keys an anonymous profile as external_id (v2 would not), no Klaviyo profile id, group only subscribes.
    const [imp] = await requests(none, {
      type: 'identify',
      anonymousId: 'anon-1',
      context: { externalId: [{ type: 'klaviyo-profileId', id: 'K1' }] },
      traits: { email: 'a@x.co' },
    });
    expect(imp.body.data.id).toBeUndefined();
    expect(imp.body.data.attributes.external_id).toBe('anon-1');
    expect(plan(none, { ...GROUP, traits: { subscribe: false } }).error?.field).toBe('traits.subscribe');
    expect(getPreset('rudderstack', {}).summary).toMatch(/^apiVersion v1 \(the settings name none/);
    expect(getPreset('rudderstack', { apiVersion: 'v2' }).summary).toBe('apiVersion v2');
  });

  it('accepts every key of RudderStack’s definition in the shapes it stores them, and its web options per source type', async () => {
    // The destination's Config as RudderStack's control plane keeps it today (rudder-integrations-config schema.json).
    const today = {
      apiVersion: 'v2',
      publicApiKey: 'PUB123',
      privateApiKey: 'pk_test',
      listId: '',
      consent: ['email'],
      flattenProperties: false,
      enforceEmailAsPrimary: false,
      eventFilteringOption: 'disable',
      whitelistedEvents: [{ eventName: '' }],
      blacklistedEvents: [{ eventName: '' }],
      useNativeSDK: { web: false },
      connectionMode: { web: 'cloud', android: 'cloud' },
      connectionModes: { webDevice: {} },
      sendPageAsTrack: { web: true },
      additionalPageInfo: { web: false },
      consentManagement: { web: [{ provider: 'oneTrust', consents: [{ consent: 'C0001' }], resolutionStrategy: '' }] },
      oneTrustCookieCategories: { web: [{ oneTrustCookieCategory: '' }] },
      ketchConsentPurposes: { web: [{ purpose: '' }] },
      useNewKlaviyoRevisionVersion: true,
    };
    const d = destination('rudderstack', today);
    const page = { type: 'page', userId: 'u1', name: 'Pricing', properties: { url: 'https://x' }, context: { traits: { email: 'a@x.co' } } };
    expect(event(await requests(d, page))).toMatchObject({ metric: { data: { attributes: { name: 'Viewed Pricing page' } } }, properties: {} });
    expect(plan(destination('rudderstack', { ...today, sendPageAsTrack: { web: false } }), page).operations).toEqual([]);
    expect(event(await requests(destination('rudderstack', { ...today, additionalPageInfo: { web: true } }), page)).properties).toEqual({ url: 'https://x' });
    // A pre-2023 destination: no apiVersion, consent as one string, the smsConsent checkbox, web options as booleans.
    const legacy = destination('rudderstack', {
      publicApiKey: 'PUB',
      privateApiKey: 'pk',
      listId: 'L1',
      consent: 'email',
      smsConsent: true,
      sendPageAsTrack: false,
      additionalPageInfo: false,
      useNativeSDK: false,
    });
    const reqs = await requests(legacy, {
      type: 'identify',
      userId: 'u1',
      traits: { email: 'a@x.co', phone: '+14155550100', properties: { subscribe: true } },
    });
    expect(reqs[1].body.data.attributes.profiles.data[0].attributes.subscriptions).toEqual(marketing('email', 'sms'));
  });

  it('a destination export ({"Config": …} / {"config": …}) is read as its settings; its other keys are RudderStack’s', async () => {
    const exported = {
      ID: '2abc',
      Name: 'klaviyo prod',
      Enabled: true,
      WorkspaceID: 'w1',
      DestinationDefinition: { Name: 'KLAVIYO' },
      Config: { apiVersion: 'v3', privateApiKey: 'pk_exp', consent: ['sms'] },
    };
    const p = getPreset('rudderstack', exported);
    expect([p.apiKey, p.summary]).toEqual(['pk_exp', 'apiVersion v3']);
    expect(getPreset('rudderstack', { id: 'x', config: { apiVersion: 'v2' } }).summary).toBe('apiVersion v2');
    // The settings inside are checked as usual.
    expect(() => getPreset('rudderstack', { Config: { apiVersion: 'v2', listID: 'L1' } })).toThrow('listID: Unrecognized key "listID"; did you mean "listId"?');
  });
});

describe('apiVersion v3: v2’s behaviour with explicit per-channel consent states (rudder-transformer’s v3 fixtures)', () => {
  const v3 = destination('rudderstack', { privateApiKey: 'pk_test', apiVersion: 'v3', consent: ['email', 'sms'] });
  const v3sms = destination('rudderstack', { privateApiKey: 'pk_test', apiVersion: 'v3', consent: ['sms'] });
  const v2sms = destination('rudderstack', { privateApiKey: 'pk_test', apiVersion: 'v2', consent: ['sms'] });
  const group = (subscribe: boolean) => ({
    type: 'group',
    userId: 'user123',
    groupId: 'group_list_id',
    traits: { subscribe },
    context: { traits: { email: 'test@rudderstack.com', phone: '+14155550100' } },
  });
  const profiles = (r: { body: any }) => r.body.data.attributes.profiles.data.map((p: any) => p.attributes);
  const unsubscribed = (...channels: string[]) => Object.fromEntries(channels.map((c) => [c, { marketing: { consent: 'UNSUBSCRIBED' } }]));

  it('group subscribe: the configured channels SUBSCRIBED; unsubscribe: only the configured channels UNSUBSCRIBED (v2 withdraws both)', async () => {
    const sub = await requests(v3, group(true));
    expect(sub.map((r) => r.path)).toEqual(['/api/profile-subscription-bulk-create-jobs']);
    expect(profiles(sub[0])).toEqual([{ email: 'test@rudderstack.com', phone_number: '+14155550100', subscriptions: marketing('email', 'sms') }]);
    expect(sub[0].body.data.relationships.list.data.id).toBe('group_list_id');
    const unsub = await requests(v3sms, group(false));
    expect(unsub.map((r) => r.path)).toEqual(['/api/profile-subscription-bulk-delete-jobs']);
    expect(profiles(unsub[0])).toEqual([{ phone_number: '+14155550100', subscriptions: unsubscribed('sms') }]);
    expect(profiles((await requests(v2sms, group(false)))[0])).toEqual([
      { email: 'test@rudderstack.com', phone_number: '+14155550100', subscriptions: unsubscribed('email', 'sms') },
    ]);
  });

  it('identify: profile-import as v2, then the subscribe or unsubscribe job with the channels of the consent (message override first)', async () => {
    const traits = (subscribe: boolean, consent?: string[]) => ({
      email: 'test@rudderstack.com',
      phone: '+14155550100',
      firstName: 'Test',
      properties: { listId: 'XUepkK', subscribe, ...(consent ? { consent } : {}) },
    });
    const sub = await requests(v3, { type: 'identify', userId: 'user@1', context: { traits: traits(true) } });
    expect(sub.map((r) => r.path)).toEqual(['/api/profile-import', '/api/profile-subscription-bulk-create-jobs']);
    expect(sub[0].body.data.attributes).toMatchObject({ external_id: 'user@1', first_name: 'Test' });
    expect(profiles(sub[1])).toEqual([{ email: 'test@rudderstack.com', phone_number: '+14155550100', subscriptions: marketing('email', 'sms') }]);
    const unsub = await requests(v3, { type: 'identify', userId: 'user@1', context: { traits: traits(false) } });
    expect(unsub.map((r) => r.path)).toEqual(['/api/profile-import', '/api/profile-subscription-bulk-delete-jobs']);
    expect(profiles(unsub[1])).toEqual([{ email: 'test@rudderstack.com', phone_number: '+14155550100', subscriptions: unsubscribed('email', 'sms') }]);
    const overridden = await requests(v3, { type: 'identify', userId: 'user@1', context: { traits: traits(false, ['email']) } });
    expect(profiles(overridden[1])).toEqual([{ email: 'test@rudderstack.com', subscriptions: unsubscribed('email') }]);
  });

  it(
    'no channel of the consent has its identifier: v3 refuses the call (identify ' + 'and group), where v2 sends the identify without the subscription',
    async () => {
      const m = { type: 'identify', userId: 'u1', traits: { email: 'a@x.co', properties: { listId: 'L1', subscribe: false } } };
      expect(plan(v3sms, m).error).toEqual({
        field: 'consent',
        message: 'cannot unsubscribe from list L1: consent [sms] names no channel whose identifier is in the message',
      });
      expect(plan(v3sms, { ...m, traits: { ...m.traits, properties: { listId: 'L1', subscribe: true } } }).error?.field).toBe('consent');
      expect(plan(v3sms, { ...group(true), context: { traits: { email: 'a@x.co' } } }).error?.field).toBe('consent');
      const v2 = plan(v2sms, { ...m, traits: { ...m.traits, properties: { listId: 'L1', subscribe: true } } });
      expect([v2.error, v2.operations.map((o) => o.op.kind), v2.warnings.length]).toEqual([null, ['profile.upsert'], 1]);
    },
  );

  it('track, screen and identify without a list behave as v2', async () => {
    const d3 = destination('rudderstack', { apiVersion: 'v3' });
    const d2 = destination('rudderstack', { apiVersion: 'v2' });
    for (const m of [
      TRACK,
      IDENTIFY,
      PATCHING,
      { type: 'screen', userId: 'u1', name: 'Home', properties: { revenue: '12.5' }, context: { traits: { email: 'a@x.co' } } },
    ]) {
      const strip = (rs: { path: string; body: any }[]) => rs.filter((r) => !r.path.includes('subscription'));
      expect(strip(await requests(d3, m))).toEqual(strip(await requests(d2, m)));
    }
  });
});

describe('screen calls', () => {
  it(
    'a screen with an `event` field is an event of that name (v1 and v2, as RudderStack’s ' +
      'fixtures), else v1’s properties.event / name, else the screen name',
    async () => {
      const m = {
        type: 'screen',
        event: 'TestEven001',
        userId: 'sajal12',
        name: 'Home',
        context: { traits: { email: 'test@rudderstack.com' } },
        properties: { PreviouslyVicePresident: true, YearElected: 1801 },
      };
      for (const d of [v1, v2, destination('rudderstack', { apiVersion: 'v3' })]) {
        expect(event(await requests(d, m))).toMatchObject({
          metric: { data: { attributes: { name: 'TestEven001' } } },
          properties: { PreviouslyVicePresident: true, YearElected: 1801 },
        });
      }
      const { event: _e, ...noEvent } = m;
      expect(event(await requests(v1, { ...noEvent, properties: { event: 'From props' } })).metric.data.attributes.name).toBe('From props');
      expect(event(await requests(v1, noEvent)).metric.data.attributes.name).toBe('Home');
      expect(event(await requests(v2, noEvent)).metric.data.attributes.name).toBe('Home');
    },
  );
});

describe('a non-numeric value refuses the event, naming the property (RudderStack v2: "Invalid float value")', () => {
  it('value, revenue or total that is not a number or numeric text: an error, not an event without its value', async () => {
    for (const d of [v1, v2, destination('rudderstack', { apiVersion: 'v3' })]) {
      const r = plan(d, { type: 'track', userId: 'u1', event: 'Paid', properties: { value: { amount: 3 } } });
      expect(r.error).toEqual({
        field: 'properties.value',
        message: 'properties.value is the event\'s value and must be a number (or numeric text); got {"amount":3}',
      });
      expect(r.operations).toEqual([]);
      expect(plan(d, { type: 'track', userId: 'u1', event: 'Paid', properties: { revenue: 'lots', value: 3 } }).error?.field).toBe('properties.revenue');
      expect(event(await requests(d, { type: 'track', userId: 'u1', event: 'Paid', properties: { total: ' 12.50 ' } })).value).toBe(12.5);
    }
    // v1's ecommerce value ($value ← properties.value) too.
    expect(plan(v1, { type: 'track', userId: 'u1', event: 'Product Added', properties: { value: [1] } }).error?.field).toBe('properties.value');
  });
});

describe('Reverse ETL records (context.mappedToDestination)', () => {
  // rudder-transformer's "Retl Router tests" inputs (router/dataV2.ts), one config with and one without a list.
  const retl1 = {
    type: 'identify',
    anonymousId: 'anonTestKlaviyo1',
    userId: 'testKlaviyo1',
    context: {
      mappedToDestination: 'true',
      externalId: [{ id: 'testklaviyo1@email.com', identifierType: 'email', type: 'KLAVIYO-profile_v2' }],
      traits: { properties: { subscribe: false }, firstname: 'Test Klaviyo 1' },
    },
  };
  const retl2 = {
    type: 'identify',
    anonymousId: 'anonTestKlaviyo2',
    userId: 'testKlaviyo2',
    traits: { firstname: 'Test Klaviyo 2', properties: { subscribe: true, listId: 'configListId', consent: ['email'] } },
    context: { mappedToDestination: 'true', externalId: [{ id: 'testklaviyo2@rs.com', identifierType: 'email', type: 'KLAVIYO-profile_v2' }] },
  };

  it('the first externalId is the user: its id is the userId (external_id) and the trait its identifierType names', async () => {
    const r1 = await requests(v2, retl1);
    expect(r1.map((r) => r.path)).toEqual(['/api/profile-import']); // subscribe: false, but no list anywhere
    expect(r1[0].body.data.attributes).toEqual({
      external_id: 'testklaviyo1@email.com',
      email: 'testklaviyo1@email.com',
      first_name: 'Test Klaviyo 1',
      properties: { anonymous_id: 'anonTestKlaviyo1' },
    });
    const r2 = await requests(v2, retl2);
    expect(r2.map((r) => r.path)).toEqual(['/api/profile-import', '/api/profile-subscription-bulk-create-jobs']);
    expect(r2[0].body.data.attributes).toMatchObject({ external_id: 'testklaviyo2@rs.com', email: 'testklaviyo2@rs.com', first_name: 'Test Klaviyo 2' });
    expect(r2[1].body.data.relationships.list.data.id).toBe('configListId');
    const phone = await requests(v1, {
      type: 'identify',
      anonymousId: 'row-7',
      context: { mappedToDestination: true, externalId: [{ id: '+14155550100', identifierType: 'phone', type: 'KLAVIYO-profile' }], traits: { plan: 'pro' } },
    });
    expect(phone[0].body.data.attributes).toMatchObject({ external_id: '+14155550100', phone_number: '+14155550100', properties: { plan: 'pro' } });
  });

  it('a record subscribes to the configured list unless it says subscribe: false; without mappedToDestination nothing changes', async () => {
    const listed = destination('rudderstack', { apiVersion: 'v2', listId: 'L9' });
    const rec = {
      type: 'identify',
      anonymousId: 'row-8',
      context: { mappedToDestination: true, externalId: [{ id: 'w@x.co', identifierType: 'email', type: 'KLAVIYO-profile_v2' }], traits: { firstname: 'W' } },
    };
    const reqs = await requests(listed, rec);
    expect(reqs.map((r) => r.path)).toEqual(['/api/profile-import', '/api/profile-subscription-bulk-create-jobs']);
    expect(reqs[1].body.data.relationships.list.data.id).toBe('L9');
    expect((await requests(listed, retl1)).map((r) => r.path)).toEqual(['/api/profile-import', '/api/profile-subscription-bulk-delete-jobs']);
    // The same message from an event stream (no mappedToDestination): no identifiers from externalId, no subscription.
    const plain = plan(listed, { ...rec, userId: 'u1', context: { ...rec.context, mappedToDestination: undefined } });
    expect(plain.operations.map((o) => o.op.kind)).toEqual(['profile.upsert']);
    expect((plain.operations[0].op as any).profile.email).toBeUndefined();
  });
});
