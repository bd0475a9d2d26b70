/** The segment-classic preset: seed 003 (Segment's classic Klaviyo destination, server side) on the 2026-07-15 API. */
import { describe, expect, it } from 'vitest';
import { compileDestination } from '../../destination/index.js';
import { PresetSettingsError } from '../index.js';
import { destination, plan, POLL, requests, requestsOf } from './helpers.js';

// Seed 003's examples.
const IDENTIFY = {
  type: 'identify',
  userId: '019mr8mf4r',
  timestamp: '2026-03-01T12:00:00.000Z',
  traits: { name: 'Serena Williams', email: 'swilliams@sportstech.com', plan: 'Enterprise', friends: 42 },
  integrations: { Klaviyo: { listId: 'baV129', confirmOptin: false } },
};
const ORDER = {
  type: 'track',
  userId: '019mr8mf4r',
  event: 'Order Completed',
  timestamp: '2026-03-01T12:05:00.000Z',
  properties: {
    orderId: '50314b8e9bcf000000000000',
    total: 30,
    revenue: 25,
    shipping: 3,
    tax: 2,
    discount: 2.5,
    coupon: 'hasbros',
    currency: 'USD',
    repeat: true,
    products: [
      {
        id: '507f1f77bcf86cd799439011',
        sku: '45790-32',
        name: 'Monopoly: 3rd Edition',
        price: 19,
        quantity: 1,
        category: 'Games',
        productUrl: 'http://www.example.com/path/to/product',
        imageUrl: 'http://www.example.com/path/to/product/image.png',
      },
      { id: '505bd76785ebb509fc183733', sku: '46493-32', name: 'Uno Card Game', price: 3, quantity: 2, category: 'Games' },
    ],
  },
};
const ITEM_ADDED = {
  type: 'track',
  userId: 'user123',
  event: 'Item Added',
  messageId: 'm-item',
  properties: { price: 39.95, type: 'Dress', colour: 'Red', shippingMethod: '2-day' },
};

const classic = destination('segment-classic', { apiKey: 'PubKey', privateKey: 'pk_test' });
const subscription = (reqs: { path: string; body: any }[]) => reqs.find((r) => r.path === '/api/profile-subscription-bulk-create-jobs')?.body.data;
/** Events of a request to /api/events or /api/event-bulk-create-jobs, flattened. */
const events = (reqs: { path: string; body: any }[]) =>
  reqs.flatMap((r) =>
    r.path === '/api/events'
      ? [r.body.data.attributes]
      : r.body.data.attributes['events-bulk-create'].data.flatMap((e: any) =>
          e.attributes.events.data.map((x: any) => ({ ...x.attributes, profile: e.attributes.profile })),
        ),
  );

describe('identify (seed 003)', () => {
  it(
    'creates the person with $id = userId and custom traits, then subscribes them to ' +
      'integrations.Klaviyo.listId without confirmation (confirmOptin: false)',
    async () => {
      expect(await requests(classic, IDENTIFY)).toEqual([
        {
          method: 'POST',
          path: '/api/profile-import',
          body: {
            data: {
              type: 'profile',
              attributes: {
                email: 'swilliams@sportstech.com',
                external_id: '019mr8mf4r',
                properties: { name: 'Serena Williams', plan: 'Enterprise', friends: 42 },
              },
            },
          },
        },
        {
          method: 'POST',
          path: '/api/profile-subscription-bulk-create-jobs',
          body: {
            data: {
              type: 'profile-subscription-bulk-create-job',
              // Consent already given: a historical import at the call's time, so Klaviyo sends no confirmation email.
              attributes: {
                profiles: {
                  data: [
                    {
                      type: 'profile',
                      attributes: {
                        email: 'swilliams@sportstech.com',
                        subscriptions: { email: { marketing: { consent: 'SUBSCRIBED', consented_at: '2026-03-01T12:00:00.000Z' } } },
                      },
                    },
                  ],
                },
                historical_import: true,
              },
              relationships: { list: { data: { type: 'list', id: 'baV129' } } },
            },
          },
        },
      ]);
    },
  );

  it('maps Segment’s special traits to Klaviyo’s special properties', async () => {
    const [profile] = await requests(classic, {
      type: 'identify',
      userId: 'u1',
      traits: {
        email: 'a@x.co',
        phoneNumber: '+1 (415) 555-0100',
        firstName: 'Ann',
        lastName: 'Lee',
        title: 'CTO',
        organization: 'Acme',
        city: 'San Francisco',
        state: 'CA',
        country: 'US',
        zip: '94105',
        timezone: 'America/Los_Angeles',
        address: { street: '1 Market St' },
        avatar: 'https://x/a.png',
        plan: 'pro',
      },
    });
    expect(profile.body.data.attributes).toEqual({
      email: 'a@x.co',
      phone_number: '+14155550100',
      external_id: 'u1',
      first_name: 'Ann',
      last_name: 'Lee',
      organization: 'Acme',
      title: 'CTO',
      image: 'https://x/a.png',
      location: { address1: '1 Market St', city: 'San Francisco', region: 'CA', country: 'US', zip: '94105', timezone: 'America/Los_Angeles' },
      properties: { plan: 'pro' },
    });
  });

  it('an email userId is the email', async () => {
    expect((await requests(classic, { type: 'identify', userId: 'ann@x.co', traits: {} }))[0].body.data.attributes).toEqual({
      email: 'ann@x.co',
      external_id: 'ann@x.co',
    });
  });

  it(
    'listId setting is the default list; confirmOptin (default true) leaves ' + 'confirmation to the list; the call’s integrations.Klaviyo overrides both',
    async () => {
      const d = destination('segment-classic', { listId: 'DEFAULT' });
      const m = { type: 'identify', userId: 'u1', timestamp: '2026-03-01T12:00:00Z', traits: { email: 'a@x.co' } };
      const confirmed = subscription(await requests(d, m));
      expect(confirmed.relationships.list.data.id).toBe('DEFAULT');
      expect(confirmed.attributes).toEqual({
        profiles: { data: [{ type: 'profile', attributes: { email: 'a@x.co', subscriptions: { email: { marketing: { consent: 'SUBSCRIBED' } } } } }] },
      });

      const given = subscription(await requests(destination('segment-classic', { listId: 'DEFAULT', confirmOptin: false }), m));
      expect(given.attributes.historical_import).toBe(true);
      const overridden = subscription(
        await requests(destination('segment-classic', { listId: 'DEFAULT', confirmOptin: false }), {
          ...m,
          integrations: { Klaviyo: { listId: 'OTHER', confirmOptin: true } },
        }),
      );
      expect([overridden.relationships.list.data.id, overridden.attributes.historical_import]).toEqual(['OTHER', undefined]);
      expect(subscription(await requests(classic, m))).toBeUndefined(); // no list anywhere
    },
  );

  it('a list needs an email: without one the person is still updated, with a warning', async () => {
    const r = plan(destination('segment-classic', { listId: 'L1' }), { type: 'identify', userId: 'u1', traits: { plan: 'pro' } });
    expect(r.error).toBeNull();
    expect((await requestsOf(r.operations)).map((q) => q.path)).toEqual(['/api/profile-import']);
    expect(r.warnings).toEqual([
      { field: 'traits.email', message: 'not subscribed to list L1: the List API needs an email (traits.email or an email userId)' },
    ]);
  });

  it('confirmOptin false without a timestamp: subscribed under the list’s own setting, with a warning', async () => {
    const r = plan(destination('segment-classic', { listId: 'L1', confirmOptin: false }), { type: 'identify', userId: 'u1', traits: { email: 'a@x.co' } });
    expect(subscription(await requestsOf(r.operations)).attributes.historical_import).toBeUndefined();
    expect(r.warnings.map((w) => w.field)).toEqual(['timestamp']);
  });
});

describe('Enforce Email as Primary Identifier, Fallback on Anonymous ID', () => {
  it('enforceEmail: $id is never set; the userId becomes the custom property id; identify and track need an email', async () => {
    for (const settings of [{ enforceEmail: true }, { enforceEmailAsPrimary: true }]) {
      const d = destination('segment-classic', settings);
      expect((await requests(d, { type: 'identify', userId: 'u1', traits: { email: 'a@x.co', plan: 'pro' } }))[0].body.data.attributes).toEqual({
        email: 'a@x.co',
        properties: { plan: 'pro', id: 'u1' },
      });
      expect(events(await requests(d, { ...ITEM_ADDED, properties: { email: 'b@x.co' } }))[0].profile.data.attributes).toEqual({
        email: 'b@x.co',
        properties: { id: 'user123' },
      });
      expect(plan(d, ITEM_ADDED).error).toEqual({
        field: 'email',
        message: 'enforceEmail is on, so Klaviyo is keyed by email, and the call has none (properties.email or an email userId)',
      });
    }
  });

  it('server-side calls need a userId unless sendAnonymous, which falls back on the anonymousId', async () => {
    const anon = { type: 'track', anonymousId: 'anon-1', event: 'Viewed' };
    expect(plan(classic, anon).error).toEqual({
      field: 'userId',
      message: 'server-side calls need a userId; enable sendAnonymous to fall back on the anonymousId',
    });
    for (const settings of [{ sendAnonymous: true }, { fallbackOnAnonymousId: true }])
      expect(events(await requests(destination('segment-classic', settings), anon))[0].profile.data.attributes).toEqual({ external_id: 'anon-1' });
    expect(
      (await requests(destination('segment-classic', { sendAnonymous: true }), { type: 'identify', anonymousId: 'anon-1', traits: { email: 'a@x.co' } }))[0]
        .body.data.attributes.external_id,
    ).toBe('anon-1');
  });
});

describe('track (seed 003)', () => {
  it('keys the event by userId, with properties as sent, revenue as the value and properties.email as the email', async () => {
    const [ev] = events(
      await requests(classic, {
        ...ITEM_ADDED,
        timestamp: '2026-03-01T12:00:00Z',
        properties: { ...ITEM_ADDED.properties, revenue: '39.95', email: 'c@x.co' },
      }),
    );
    expect(ev).toEqual({
      properties: { price: 39.95, type: 'Dress', colour: 'Red', shippingMethod: '2-day', revenue: '39.95', email: 'c@x.co' },
      time: '2026-03-01T12:00:00.000Z',
      value: 39.95,
      unique_id: 'm-item',
      backfill: true, // ours: an event dated months before it is sent is a backfill (docs/backfill-and-push.md)
      metric: { data: { type: 'metric', attributes: { name: 'Item Added' } } },
      profile: { data: { type: 'profile', attributes: { email: 'c@x.co', external_id: 'user123' } } },
    });
  });

  it('Order Completed → Placed Order (revenue as value, orderId as its unique id) and one Ordered Product per product, keyed orderId_productId', async () => {
    const evs = events(await requests(classic, ORDER));
    expect(evs.map((e) => [e.metric.data.attributes.name, e.unique_id, e.value])).toEqual([
      ['Placed Order', '50314b8e9bcf000000000000', 25],
      ['Ordered Product', '50314b8e9bcf000000000000_507f1f77bcf86cd799439011', 19],
      ['Ordered Product', '50314b8e9bcf000000000000_505bd76785ebb509fc183733', 3],
    ]);
    expect(evs[1].properties).toEqual({
      id: '507f1f77bcf86cd799439011',
      sku: '45790-32',
      name: 'Monopoly: 3rd Edition',
      price: 19,
      quantity: 1,
      category: 'Games',
      'Product URL': 'http://www.example.com/path/to/product',
      'Image URL': 'http://www.example.com/path/to/product/image.png',
      order_id: '50314b8e9bcf000000000000',
    });
    expect(evs.every((e) => e.profile.data.attributes.external_id === '019mr8mf4r')).toBe(true);
  });

  it('product ids: productId, then id, then sku; eventId keys the order when given', async () => {
    const products = [{ productId: 'P1', id: 'I1', sku: 'S1' }, { id: 'I2', sku: 'S2' }, { sku: 'S3' }];
    const evs = events(await requests(classic, { ...ORDER, properties: { orderId: 'o1', eventId: 'ev-9', products } }));
    expect(evs.map((e) => e.unique_id)).toEqual(['ev-9', 'o1_P1', 'o1_I2', 'o1_S3']);
  });

  it('useSegmentSpec ("Send Placed Order Events as Order Completed") keeps the event’s name; "Completed Order" (spec v1) is an order too', async () => {
    for (const settings of [{ useSegmentSpec: true }, { sendPlacedOrderAsOrderCompleted: true }]) {
      expect(events(await requests(destination('segment-classic', settings), ORDER))[0].metric.data.attributes.name).toBe('Order Completed');
    }
    expect(events(await requests(classic, { ...ORDER, event: 'Completed Order' })).map((e) => e.metric.data.attributes.name)).toEqual([
      'Placed Order',
      'Ordered Product',
      'Ordered Product',
    ]);
  });

  it('page, screen and group calls send nothing (the classic destination took identify and track server side)', async () => {
    for (const m of [
      { type: 'page', userId: 'u1', name: 'Home' },
      { type: 'screen', userId: 'u1', name: 'Home' },
      { type: 'group', userId: 'u1', groupId: 'g1' },
    ]) {
      expect(plan(classic, m)).toMatchObject({ actions: [], operations: [], error: null });
    }
  });

  it('a run of every kind of call coalesces into requests all valid against the spec', async () => {
    const d = destination('segment-classic', { listId: 'L1', confirmOptin: false, sendAnonymous: true });
    const msgs = [
      IDENTIFY,
      ORDER,
      ITEM_ADDED,
      { type: 'identify', anonymousId: 'a2', timestamp: '2026-03-01T12:00:00Z', traits: { email: 'z@x.co', address: { city: 'Lyon', country: 'FR' } } },
    ];
    const ops = msgs.flatMap((m, i) => plan(d, { ...m, messageId: `c${i}` }).operations);
    const reqs = await requestsOf(ops);
    // The order's events share the user id with the identify (which also has an email): they go after its import.
    expect(reqs.map((r) => r.path)).toEqual([
      '/api/profile-bulk-import-jobs',
      POLL,
      '/api/profile-subscription-bulk-create-jobs',
      '/api/event-bulk-create-jobs',
      '/api/profile-subscription-bulk-create-jobs',
    ]);
    // one job per list
    expect(reqs.filter((r) => r.path.includes('subscription')).map((r) => r.body.data.relationships.list.data.id)).toEqual(['baV129', 'L1']);
  });
});

describe('settings (Segment’s names), checked at startup', () => {
  it('names each bad setting', async () => {
    const message = (settings: Record<string, unknown>) => {
      try {
        compileDestination({ preset: 'segment-classic', settings });
      } catch (e) {
        expect(e).toBeInstanceOf(PresetSettingsError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(message({ confirmOptin: 'no' })).toContain('invalid settings for preset "segment-classic":\n  - confirmOptin:');
    expect(message({ listID: 'L1' })).toMatch(/Unrecognized key.*"listID"/);
  });
});
