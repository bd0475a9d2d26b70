/**
 * The event and order rules, on the action's own plan (mapped payload → operations): metric names, event times
 * Klaviyo accepts, value and currency, the event's profile, and an order's product events (ids, properties, times).
 */
import { describe, expect, it } from 'vitest';
import { eventOperation, eventTime, metricName } from '../event.js';
import orderCompleted from '../orderCompleted/index.js';
import { PayloadError, type PlanWarning } from '../types.js';

const ctx = { messageId: 'msg-1' };
const profile = { email: 'a@x.co' };
const event = (p: Record<string, unknown>, warnings: PlanWarning[] = []) => eventOperation({ metric_name: 'Viewed', profile, ...p }, {}, warnings, ctx);

describe('metricName', () => {
  it('trims, and refuses an empty name saying which field', () => {
    expect(metricName('  Viewed  ', [])).toBe('Viewed');
    for (const raw of ['', '   ', undefined, null]) {
      const err = (() => {
        try {
          metricName(raw, [], 'product_event_name');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(PayloadError);
      expect(err).toMatchObject({ field: 'product_event_name', message: 'product_event_name is empty; Klaviyo needs a metric name' });
    }
  });

  it('keeps 127 characters (counted as characters, not UTF-16 units) and cuts the 128th with a warning', () => {
    const w: PlanWarning[] = [];
    expect(metricName('a'.repeat(127), w)).toBe('a'.repeat(127));
    expect(metricName('😀'.repeat(127), w)).toBe('😀'.repeat(127)); // 254 UTF-16 units
    expect(w).toEqual([]);
    expect(metricName('😀'.repeat(128), w)).toBe('😀'.repeat(127));
    expect(metricName('a'.repeat(128), w)).toBe('a'.repeat(127));
    expect(w).toEqual([
      { field: 'metric_name', message: "truncated to 127 characters (Klaviyo's limit)" },
      { field: 'metric_name', message: "truncated to 127 characters (Klaviyo's limit)" },
    ]);
  });
});

describe('eventTime', () => {
  const now = Date.UTC(2026, 11, 1);
  const YEAR = 365 * 24 * 3600 * 1000;
  it('keeps times from 2000-01-01 up to a year ahead, both ends included, as ISO', () => {
    const w: PlanWarning[] = [];
    expect(eventTime('2000-01-01T00:00:00Z', w, now)).toBe('2000-01-01T00:00:00.000Z');
    expect(eventTime(new Date(now + YEAR).toISOString(), w, now)).toBe(new Date(now + YEAR).toISOString());
    expect(eventTime('2026-11-30T10:00:00+01:00', w, now)).toBe('2026-11-30T09:00:00.000Z');
    expect(w).toEqual([]);
  });
  it('no time is no time, without a warning', () => {
    const w: PlanWarning[] = [];
    for (const raw of [undefined, null, '']) expect(eventTime(raw, w, now)).toBeUndefined();
    expect(w).toEqual([]);
  });
  it('drops what Klaviyo would refuse, saying that Klaviyo then records it when received', () => {
    const w: PlanWarning[] = [];
    expect(eventTime('1999-12-31T23:59:59.999Z', w, now)).toBeUndefined();
    expect(eventTime(new Date(now + YEAR + 1).toISOString(), w, now)).toBeUndefined();
    expect(eventTime('yesterday', w, now)).toBeUndefined();
    expect(w.map((x) => x.field)).toEqual(['time', 'time', 'time']);
    expect(w[2].message).toBe(
      'dropped "yesterday": Klaviyo accepts event times from 2000 up to a year ahead; the event is recorded at the time Klaviyo receives it',
    );
  });
});

describe('eventOperation', () => {
  it('takes a finite number as value and a three-letter code as its currency, upper-cased', () => {
    expect(event({ value: 12.5, value_currency: 'eur' })).toMatchObject({ value: 12.5, valueCurrency: 'EUR' });
    for (const value of ['12.5', Number.NaN, Number.POSITIVE_INFINITY, null]) expect(event({ value })).not.toHaveProperty('value');
    for (const value_currency of ['EU', 'EURO', ' eur', 'eur ', 'e1r', 978, '€€€'])
      expect(event({ value: 1, value_currency })).not.toHaveProperty('valueCurrency');
  });

  it('sets a time only when there is one, and properties only from an object', () => {
    const op = event({ properties: ['a'] });
    expect(op).not.toHaveProperty('time');
    expect(op.properties).toEqual({});
    expect(event({ properties: { a: 1 }, time: '2026-01-01T00:00:00Z' })).toMatchObject({ properties: { a: 1 }, time: '2026-01-01T00:00:00.000Z' });
  });

  it('dedupes on the mapped unique_id, else the default it is given', () => {
    expect(event({ unique_id: 42 }).uniqueId).toBe('42');
    expect(event({}).uniqueId).toBe('msg-1');
    expect(eventOperation({ metric_name: 'Viewed', profile }, {}, [], ctx, 'order-7').uniqueId).toBe('order-7');
  });

  it('the profile: its identifiers and attributes, custom properties, and a phone read with the profile’s country before the event’s', () => {
    const op = event({
      profile: { email: 'A@X.co', first_name: 'Ada', other_properties: { plan: 'pro' }, phone_number: '2079460958', country_code: 'GB' },
      country_code: 'US',
    });
    expect(op.profile).toEqual({ email: 'A@x.co', first_name: 'Ada', phone_number: '+442079460958', properties: { plan: 'pro' } });
    expect(event({ profile: { phone_number: '2079460958' }, country_code: 'GB' }).profile).toEqual({ phone_number: '+442079460958' });
    expect(event({ profile: { email: 'a@x.co', properties: { tier: 2 } } }).profile).toEqual({ email: 'a@x.co', properties: { tier: 2 } });
    expect(event({ profile: { email: 'a@x.co', other_properties: 'x' } }).profile).not.toHaveProperty('properties');
    expect(event({}).profile).not.toHaveProperty('properties');
  });

  it('names profile fields in warnings and errors with their place in the payload', () => {
    const w: PlanWarning[] = [];
    const op = eventOperation({ metric_name: 'Viewed', profile: { email: 'a@x.co', phone_number: 'abc' } }, {}, w, ctx);
    expect(op.profile).toEqual({ email: 'a@x.co' });
    expect(w.map((x) => x.field)).toEqual(['profile.phone_number']);
    const more: PlanWarning[] = [];
    eventOperation({ metric_name: 'Viewed', profile: { email: 'a@x.co', first_name: ['Ada'], other_properties: { big: 'x'.repeat(200_000) } } }, {}, more, ctx);
    expect(more.map((x) => x.field)).toEqual(['profile.first_name', 'profile.properties.big', 'profile.properties.big']); // cut, then still too big: dropped
    expect(() => eventOperation({ metric_name: 'Viewed', profile: { email: 'nope' } }, {}, [], ctx)).toThrow(
      expect.objectContaining({
        field: 'profile',
        message: expect.stringMatching(/^a valid email, .* is required to identify the profile \(profile\.email: /),
      }),
    );
  });
});

describe('orderCompleted.plan', () => {
  const plan = (p: Record<string, unknown>) => orderCompleted.plan({ metric_name: 'Order Completed', profile, ...p }, {}, ctx);

  it('without an order id: the message id keys the order, and the products after it; no order_id is added to them', () => {
    const { operations } = plan({
      products: [
        { product_id: 'p1', price: '9.5' },
        { sku: 's2', price: 'free' },
      ],
    });
    expect(operations.map((o) => o.kind === 'event.create' && [o.metric, o.uniqueId, o.value, o.properties])).toEqual([
      ['Order Completed', 'msg-1', undefined, {}],
      ['Ordered Product', 'msg-1_p1', 9.5, { product_id: 'p1', price: '9.5' }],
      ['Ordered Product', 'msg-1_s2', undefined, { sku: 's2', price: 'free' }],
    ]);
  });

  it('a mapped unique_id keys the order and its products when there is no order id', () => {
    const { operations } = plan({ unique_id: 'refund-3', products: [{ id: 'p1' }] });
    expect(operations.map((o) => o.kind === 'event.create' && o.uniqueId)).toEqual(['refund-3', 'refund-3_p1']);
  });

  it('products inherit the order’s time and profile; no time, no time on them', () => {
    const timed = plan({ order_id: 7, time: '2026-02-03T04:05:06Z', products: [{ product_id: 'p1' }] }).operations;
    expect(timed[1]).toMatchObject({ time: '2026-02-03T04:05:06.000Z', profile, uniqueId: '7_p1', properties: { product_id: 'p1', order_id: '7' } });
    expect(plan({ products: [{ product_id: 'p1' }] }).operations[1]).not.toHaveProperty('time');
  });

  it('product ids: product_id, then id, then sku; the product metric defaults to Ordered Product', () => {
    const { operations } = plan({
      order_id: 'o',
      product_event_name: undefined,
      products: [
        { sku: 's', id: 'i', product_id: 'p' },
        { sku: 's', id: 'i' },
      ],
    });
    expect(operations.slice(1).map((o) => o.kind === 'event.create' && [o.metric, o.uniqueId])).toEqual([
      ['Ordered Product', 'o_p'],
      ['Ordered Product', 'o_i'],
    ]);
  });

  it('a product metric name over Klaviyo’s limit is cut, and the warning names its field', () => {
    const { operations, warnings } = plan({ order_id: 'o', product_event_name: 'p'.repeat(130), products: [{ id: 'i' }] });
    expect(operations[1]).toMatchObject({ metric: 'p'.repeat(127) });
    expect(warnings).toEqual([{ field: 'product_event_name', message: "truncated to 127 characters (Klaviyo's limit)" }]);
  });

  it('no products: the order event alone', () => {
    expect(plan({ order_id: 'o' }).operations).toHaveLength(1);
  });
});
