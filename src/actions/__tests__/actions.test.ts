import { describe, expect, it } from 'vitest';
import { compileDestination, planMessage, ConfigError } from '../../destination/index.js';
import { validateMessage, type SegmentMessage } from '../../message/index.js';
import { onDelete, ACTIONS } from '../index.js';

const dest = compileDestination({ settings: { defaultCountry: 'US' } });
function msg(m: Record<string, unknown>): SegmentMessage {
  const v = validateMessage({ messageId: 'msg-1', timestamp: '2026-11-20T10:00:00.000Z', ...m });
  if (!v.ok) throw new Error(JSON.stringify(v.error));
  return v.message;
}
const plan = (m: Record<string, unknown>, d = dest) => planMessage(d, msg(m));

describe('segment-actions preset', () => {
  it('has a default subscription for every action except the destructive removeProfile and the warehouse-only catalog and record actions', () => {
    expect(dest.subscriptions.map((s) => s.action.name).sort()).toEqual(
      Object.keys(ACTIONS)
        .filter((a) => a !== 'removeProfile' && a !== 'upsertDataSourceRecord' && !ACTIONS[a].mirrorsRows)
        .sort(),
    );
  });
});

describe('upsertProfile (identify)', () => {
  it('maps traits to Klaviyo attributes and the rest to properties', () => {
    const r = plan({
      type: 'identify',
      userId: 'u1',
      anonymousId: 'a1',
      traits: {
        email: ' Ann@Example.COM ',
        firstName: 'Ann',
        lastName: 'Lee',
        phone: '(212) 555-0100',
        title: 'CTO',
        company: { name: 'Acme' },
        avatar: 'https://x/y.png',
        address: { street: '1 Main St', city: 'NYC', state: 'NY', postal_code: '10001', country: 'US' },
        plan: 'pro',
      },
    });
    expect(r.error).toBeNull();
    expect(r.operations.map((o) => o.op)).toEqual([
      {
        kind: 'profile.upsert',
        profile: {
          email: 'Ann@example.com',
          phone_number: '+12125550100',
          external_id: 'u1',
          first_name: 'Ann',
          last_name: 'Lee',
          organization: 'Acme',
          title: 'CTO',
          image: 'https://x/y.png',
          location: { address1: '1 Main St', city: 'NYC', region: 'NY', zip: '10001', country: 'US' },
          properties: { plan: 'pro', anonymous_id: 'a1' },
        },
      },
    ]);
  });
  it('drops an invalid phone with a warning and keeps the profile', () => {
    const r = plan({ type: 'identify', userId: 'u1', traits: { email: 'a@b.co', phone: '12' } });
    expect(r.operations[0].op).toMatchObject({ profile: { email: 'a@b.co', external_id: 'u1' } });
    expect((r.operations[0].op as any).profile.phone_number).toBeUndefined();
    expect(r.warnings[0]).toMatchObject({ field: 'phone_number' });
  });
  it('uses the country code field for numbers without a country prefix', () => {
    const d = compileDestination({
      subscriptions: [
        { subscribe: 'type = "identify"', partnerAction: 'upsertProfile', mapping: { phone_number: { '@path': '$.traits.phone' }, country_code: 'GB' } },
      ],
    });
    const r = plan({ type: 'identify', userId: 'u1', traits: { phone: '07911 123456' } }, d);
    expect((r.operations[0].op as any).profile.phone_number).toBe('+447911123456');
  });
  it('adds to a list when list_id is mapped (identifiers the mapping leaves out come from the message)', () => {
    const d = compileDestination({
      subscriptions: [{ subscribe: 'type = "identify"', partnerAction: 'upsertProfile', mapping: { email: { '@path': '$.traits.email' }, list_id: 'Y6nRLr' } }],
    });
    expect(plan({ type: 'identify', userId: 'u', traits: { email: 'a@b.co' } }, d).operations[0].op).toEqual({
      kind: 'profile.upsert',
      profile: { email: 'a@b.co', external_id: 'u' },
      list: { id: 'Y6nRLr' },
    });
    const mappedOnly = compileDestination({
      subscriptions: [{ subscribe: 'type = "identify"', partnerAction: 'upsertProfile', mapping: { email: { '@path': '$.traits.email' }, list_id: 'Y6nRLr' } }],
      settings: { fillIdentifiers: false },
    });
    expect(plan({ type: 'identify', userId: 'u', traits: { email: 'a@b.co' } }, mappedOnly).operations[0].op).toEqual({
      kind: 'profile.upsert',
      profile: { email: 'a@b.co' },
      list: { id: 'Y6nRLr' },
    });
  });
  it('patch_properties: append / unappend / unset become the operation’s patch; patched names are not also set; bad parts are dropped with a warning', () => {
    const d = compileDestination({
      subscriptions: [
        {
          subscribe: 'type = "identify"',
          partnerAction: 'upsertProfile',
          mapping: { email: { '@path': '$.traits.email' }, properties: { '@path': '$.traits' }, patch_properties: { '@path': '$.context.patch' } },
        },
      ],
    });
    const r = plan(
      {
        type: 'identify',
        userId: 'u',
        traits: { email: 'a@b.co', tags: 'x', keep: 1 },
        context: { patch: { append: { tags: 'x', none: null }, unset: 'old', replace: { a: 1 } } },
      },
      d,
    );
    expect(r.operations[0].op).toEqual({
      kind: 'profile.upsert',
      profile: { email: 'a@b.co', external_id: 'u', properties: { keep: 1 } },
      patchProperties: { append: { tags: 'x' }, unset: ['old'] },
    });
    expect(r.warnings.map((w) => w.field).sort()).toEqual(['patch_properties.replace', 'properties']);
    const empty = plan({ type: 'identify', userId: 'u', traits: { email: 'a@b.co' }, context: { patch: { append: {}, unset: [] } } }, d);
    expect(empty.operations[0].op).not.toHaveProperty('patchProperties');
  });
  it('fails a profile with no identifier, naming email', () => {
    const d = compileDestination({
      subscriptions: [{ subscribe: 'type = "identify"', partnerAction: 'upsertProfile', mapping: { email: { '@path': '$.traits.email' } } }],
    });
    expect(plan({ type: 'identify', anonymousId: 'a', traits: {} }, d).error).toMatchObject({ field: 'email' });
  });
});

describe('trackEvent', () => {
  it('sends the event with profile identifiers, value and the messageId as unique id', () => {
    const r = plan({
      type: 'track',
      userId: 'u1',
      anonymousId: 'a1',
      event: 'Viewed Product',
      properties: { sku: 'S1', nested: { a: { b: 1 } }, revenue: 9.5 },
      context: { traits: { email: 'a@b.co' } },
    });
    expect(r.operations.map((o) => o.op)).toEqual([
      {
        kind: 'event.create',
        metric: 'Viewed Product',
        properties: { sku: 'S1', nested: { a: { b: 1 } }, revenue: 9.5 },
        uniqueId: 'msg-1',
        time: '2026-11-20T10:00:00.000Z',
        value: 9.5,
        profile: { email: 'a@b.co', external_id: 'u1', anonymous_id: 'a1' },
      },
    ]);
  });
  it('does not fire for Order Completed (orderCompleted does)', () => {
    expect(plan({ type: 'track', userId: 'u', event: 'Order Completed', properties: {} }).actions.map((a) => a.action)).toEqual(['orderCompleted']);
  });
  it('patch_properties: the event profile’s patch, as upsertProfile’s; patched names are not also set from the profile’s properties', () => {
    const d = compileDestination({
      subscriptions: [
        {
          subscribe: 'type = "track"',
          partnerAction: 'trackEvent',
          mapping: {
            profile: { email: { '@path': '$.context.traits.email' }, properties: { '@path': '$.context.traits.custom' } },
            metric_name: { '@path': '$.event' },
            patch_properties: { '@path': '$.context.patch' },
          },
        },
      ],
    });
    const r = plan(
      {
        type: 'track',
        userId: 'u',
        event: 'Viewed',
        context: { traits: { email: 'a@b.co', custom: { tags: 'x', keep: 1 } }, patch: { append: { tags: 'x', none: null }, unset: 'old', replace: { a: 1 } } },
      },
      d,
    );
    expect(r.operations[0].op).toMatchObject({
      kind: 'event.create',
      profile: { email: 'a@b.co', external_id: 'u', properties: { keep: 1 } },
      patchProperties: { append: { tags: 'x' }, unset: ['old'] },
    });
    expect(r.warnings.map((w) => w.field).sort()).toEqual(['patch_properties.replace', 'profile.properties']);
    const empty = plan({ type: 'track', userId: 'u', event: 'Viewed', context: { traits: { email: 'a@b.co' }, patch: { append: {}, unset: [] } } }, d);
    expect(empty.operations[0].op).not.toHaveProperty('patchProperties');
    // The default mapping sends no patch.
    expect(plan({ type: 'track', userId: 'u', event: 'Viewed', context: { traits: { email: 'a@b.co' } } }).operations[0].op).not.toHaveProperty(
      'patchProperties',
    );
  });
  it('truncates metric names over Klaviyo’s limit with a warning', () => {
    const r = plan({ type: 'track', userId: 'u', event: 'x'.repeat(200) });
    expect((r.operations[0].op as any).metric).toHaveLength(127);
    expect(r.warnings).toContainEqual({ field: 'metric_name', message: "truncated to 127 characters (Klaviyo's limit)" });
  });
});

describe('orderCompleted', () => {
  it('sends the order and one Ordered Product per product with ids from order id + product id/sku', () => {
    const r = plan({
      type: 'track',
      userId: 'u',
      event: 'Order Completed',
      properties: { order_id: 'o-9', revenue: 30, products: [{ product_id: 'p1', price: 10 }, { sku: 's2', price: 20 }, { name: 'no id' }] },
    });
    const ops = r.operations.map((o) => o.op as any);
    expect(ops.map((o) => [o.metric, o.uniqueId, o.value])).toEqual([
      ['Order Completed', 'o-9', 30],
      ['Ordered Product', 'o-9_p1', 10],
      ['Ordered Product', 'o-9_s2', 20],
      ['Ordered Product', 'o-9_2', undefined],
    ]);
    expect(ops[1].properties).toEqual({ product_id: 'p1', price: 10, order_id: 'o-9' });
    expect(r.warnings).toEqual([{ field: 'products[2]', message: 'has no product_id, id or sku; its unique id falls back to its position in the order' }]);
  });
  it('serves Order Refunded when mapped with other metric names', () => {
    const d = compileDestination({
      subscriptions: [
        {
          subscribe: 'event = "Order Refunded"',
          partnerAction: 'orderCompleted',
          mapping: {
            ...Object.fromEntries(Object.entries(ACTIONS.orderCompleted.fields).map(([k, f]) => [k, f.default])),
            metric_name: 'Refunded Order',
            product_event_name: 'Refunded Product',
          },
        },
      ],
    });
    const ops = plan({ type: 'track', userId: 'u', event: 'Order Refunded', properties: { order_id: 'o1', products: [{ id: 'p' }] } }, d).operations.map(
      (o) => o.op as any,
    );
    expect(ops.map((o) => [o.metric, o.uniqueId])).toEqual([
      ['Refunded Order', 'o1'],
      ['Refunded Product', 'o1_p'],
    ]);
  });
});

describe('audience actions (Engage)', () => {
  const personas = { computation_key: 'vip_users', computation_id: 'aud_123' };
  it('Audience Entered adds to the audience’s list, found or created by key', () => {
    const r = plan({ type: 'track', userId: 'u', event: 'Audience Entered', context: { traits: { email: 'a@b.co' }, personas }, properties: {} });
    expect(r.operations.find((o) => o.action === 'addProfileToList')!.op).toEqual({
      kind: 'profile.upsert',
      profile: { email: 'a@b.co', external_id: 'u' },
      list: { audienceKey: 'aud_123', name: 'vip_users' },
    });
  });
  it('Audience Exited removes from it', () => {
    const r = plan({ type: 'track', userId: 'u', event: 'Audience Exited', context: { traits: { email: 'a@b.co' }, personas }, properties: {} });
    expect(r.operations.find((o) => o.action === 'removeProfileFromList')!.op).toEqual({
      kind: 'list.remove',
      profile: { email: 'a@b.co', external_id: 'u' },
      list: { audienceKey: 'aud_123', name: 'vip_users' },
    });
  });
  it('without a list or audience the action fails on list_id', () => {
    const r = plan({ type: 'track', userId: 'u', event: 'Audience Entered', context: { traits: { email: 'a@b.co' } } });
    expect(r.actions.find((a) => a.action === 'addProfileToList')!.error).toMatchObject({ field: 'list_id' });
  });
});

describe('subscribe / unsubscribe', () => {
  it('User Subscribed subscribes email and SMS with source, not as a historical import (no consent time)', () => {
    const r = plan({ type: 'track', userId: 'u', event: 'User Subscribed', properties: { email: 'a@b.co', phone: '212-555-0100' } });
    expect(r.operations.find((o) => o.action === 'subscribeProfile')!.op).toEqual({
      kind: 'subscription.subscribe',
      channels: ['email', 'sms'],
      profile: { email: 'a@b.co', phone_number: '+12125550100' },
      customSource: '-59',
    });
  });
  it('historical_import sends the consent time as a historical import', () => {
    const d = compileDestination({
      subscriptions: [
        {
          subscribe: 'event = "User Subscribed"',
          partnerAction: 'subscribeProfile',
          mapping: { email: { '@path': '$.traits.email' }, historical_import: true, consented_at: { '@path': '$.timestamp' } },
        },
      ],
    });
    const r = plan({ type: 'track', userId: 'u', event: 'User Subscribed', traits: { email: 'a@b.co' } }, d);
    expect(r.operations[0].op).toEqual({
      kind: 'subscription.subscribe',
      channels: ['email'],
      profile: { email: 'a@b.co' },
      historicalImport: true,
      consentedAt: '2026-11-20T10:00:00.000Z',
    });
  });
  it('User Unsubscribed unsubscribes', () => {
    const r = plan({ type: 'track', userId: 'u', event: 'User Unsubscribed', properties: { email: 'a@b.co' } });
    expect(r.operations.find((o) => o.action === 'unsubscribeProfile')!.op).toEqual({
      kind: 'subscription.unsubscribe',
      channels: ['email'],
      profile: { email: 'a@b.co' },
    });
    const sms = plan({ type: 'track', userId: 'u', event: 'User Unsubscribed', traits: { phone: '+12125550100' } });
    expect(sms.operations.find((o) => o.action === 'unsubscribeProfile')!.op).toEqual({
      kind: 'subscription.unsubscribe',
      channels: ['sms'],
      profile: { phone_number: '+12125550100' },
      smsTransactional: true,
    });
  });
});

describe('removeProfile and onDelete', () => {
  it('deletes by one identifier, preferring email', () => {
    const d = compileDestination({ subscriptions: [{ subscribe: 'event = "Delete Me"', partnerAction: 'removeProfile' }] });
    const r = plan({ type: 'track', userId: 'u', event: 'Delete Me', traits: { email: 'a@b.co' } }, d);
    expect(r.operations[0].op).toEqual({ kind: 'profile.delete', profile: { email: 'a@b.co' } });
  });
  it('onDelete falls back to the userId as external id', () => {
    expect(onDelete({ userId: 'u9' }, {}).operations).toEqual([{ kind: 'profile.delete', profile: { external_id: 'u9' } }]);
  });
});

describe('pasted Segment subscriptions', () => {
  it('work unchanged, custom mapping included', () => {
    const d = compileDestination({
      subscriptions: [
        {
          name: 'Track Event',
          subscribe: 'type = "track" and event = "Signed Up"',
          partnerAction: 'trackEvent',
          mapping: {
            profile: { email: { '@path': '$.properties.contact.email' }, external_id: { '@path': '$.userId' } },
            metric_name: { '@template': 'Web {{event}}' },
            properties: { '@path': '$.properties' },
            time: { '@path': '$.timestamp' },
            unique_id: { '@path': '$.messageId' },
            enable_batching: true,
          },
        },
      ],
    });
    const r = plan({ type: 'track', userId: 'u', event: 'Signed Up', properties: { contact: { email: 'c@d.co' } } }, d);
    expect(r.operations[0].op).toMatchObject({
      kind: 'event.create',
      metric: 'Web Signed Up',
      uniqueId: 'msg-1',
      profile: { email: 'c@d.co', external_id: 'u' },
    });
  });
  it('an unknown partnerAction or bad FQL is a config error naming the subscription', () => {
    expect(() => compileDestination({ subscriptions: [{ name: 'X', subscribe: 'type = "track"', partnerAction: 'sendSms' }] })).toThrow(ConfigError);
    expect(() => compileDestination({ subscriptions: [{ name: 'Y', subscribe: 'type = ', partnerAction: 'trackEvent' }] })).toThrow(/subscription "Y"/);
  });
});
