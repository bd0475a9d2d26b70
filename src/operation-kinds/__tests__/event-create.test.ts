import { describe, expect, it } from 'vitest';
import { eventCreate } from '../event-create.js';
import { KINDS, kindOf } from '../index.js';
import type { Operation } from '../../klaviyo/operations.js';
import { items, scripted } from './scripted.js';

type EventOp = Extract<Operation, { kind: 'event.create' }>;
const ev = (over: Partial<EventOp> = {}): EventOp => ({
  kind: 'event.create',
  metric: 'Viewed',
  properties: { sku: 'A' },
  uniqueId: 'u1',
  profile: { email: 'a@x.co' },
  ...over,
});
const metric = (name: string) => ({ data: { type: 'metric', attributes: { name } } });

describe('event.create', () => {
  it('one event: POST /api/events with time, value, currency, unique id, and the patch inside the profile’s attributes', async () => {
    const { sent, ctx } = scripted();
    const op = ev({
      time: '2026-01-02T03:04:05Z',
      value: 12.5,
      valueCurrency: 'EUR',
      profile: { email: 'a@x.co', anonymous_id: 'anon-1', first_name: 'Ann' },
      patchProperties: { append: { tags: 'x' }, unset: ['old'] },
    });
    expect(await eventCreate.send(items(op), ctx)).toEqual([{ status: 'delivered' }]);
    expect(sent).toEqual([
      {
        endpoint: 'createEvent',
        method: 'POST',
        path: '/api/events',
        body: {
          data: {
            type: 'event',
            attributes: {
              properties: { sku: 'A' },
              time: '2026-01-02T03:04:05Z',
              value: 12.5,
              value_currency: 'EUR',
              unique_id: 'u1',
              backfill: true, // dated long before it is sent
              metric: metric('Viewed'),
              profile: {
                data: {
                  type: 'profile',
                  attributes: {
                    email: 'a@x.co',
                    first_name: 'Ann',
                    anonymous_id: 'anon-1',
                    meta: { patch_properties: { append: { tags: 'x' }, unset: ['old'] } },
                  },
                },
              },
            },
          },
        },
      },
    ]);
  });

  it('leaves out time, value and currency when the event has none (a value of 0 is kept)', async () => {
    const { sent, ctx } = scripted();
    await eventCreate.send(items(ev()), ctx);
    const attrs = (sent[0].body as any).data.attributes;
    expect(Object.keys(attrs).sort()).toEqual(['metric', 'profile', 'properties', 'unique_id']);
    expect(attrs.profile.data).toEqual({ type: 'profile', attributes: { email: 'a@x.co' } });
    expect(Object.keys(attrs.profile.data.attributes)).toEqual(['email']); // no `meta` key at all without a patch
    await eventCreate.send(items(ev({ value: 0 })), ctx);
    expect((sent[1].body as any).data.attributes.value).toBe(0);
  });

  it('several: one bulk job, events grouped per profile, a repeated unique id of one profile and metric left out', async () => {
    const { sent, ctx } = scripted();
    const ops = [
      ev({ uniqueId: 'e1' }),
      ev({ uniqueId: 'e2', profile: { email: 'b@x.co' } }),
      ev({ uniqueId: 'e3', profile: { email: 'A@X.CO' }, value: 3 }),
      ev({ uniqueId: 'e1' }), // the same event again: Klaviyo would fail the whole job
      ev({ uniqueId: 'e1', metric: 'Bought' }), // same id, another metric: a different event
      ev({ uniqueId: 'e1', profile: { email: 'b@x.co' } }), // same id, another profile
    ];
    expect(await eventCreate.send(items(...ops), ctx)).toEqual(ops.map(() => ({ status: 'delivered' })));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ endpoint: 'bulkCreateEvents', method: 'POST', path: '/api/event-bulk-create-jobs' });
    const body = sent[0].body as any;
    expect(body.data.type).toBe('event-bulk-create-job');
    const entries = body.data.attributes['events-bulk-create'].data;
    expect(entries.map((e: any) => e.type)).toEqual(['event-bulk-create', 'event-bulk-create']);
    expect(entries.map((e: any) => e.attributes.profile.data)).toEqual([
      { type: 'profile', attributes: { email: 'a@x.co' } },
      { type: 'profile', attributes: { email: 'b@x.co' } },
    ]);
    const events = entries.map((e: any) =>
      e.attributes.events.data.map((x: any) => [x.type, x.attributes.unique_id, x.attributes.metric.data.attributes.name]),
    );
    expect(events).toEqual([
      [
        ['event', 'e1', 'Viewed'],
        ['event', 'e3', 'Viewed'],
        ['event', 'e1', 'Bought'],
      ],
      [
        ['event', 'e2', 'Viewed'],
        ['event', 'e1', 'Viewed'],
      ],
    ]);
    expect(entries[0].attributes.events.data[1].attributes.value).toBe(3);
  });

  it('a bulk job’s event profiles keep anonymous_id as an identifier, and only the attributes given', async () => {
    const { sent, ctx } = scripted();
    await eventCreate.send(items(ev({ profile: { anonymous_id: 'anon-1' } }), ev({ uniqueId: 'e2', profile: { email: 'b@x.co' } })), ctx);
    const entries = (sent[0].body as any).data.attributes['events-bulk-create'].data;
    expect(entries[0].attributes.profile.data).toEqual({ type: 'profile', attributes: { anonymous_id: 'anon-1' } });
    expect(Object.keys(entries[1].attributes.profile.data.attributes)).toEqual(['email']);
  });

  it('a patching event keeps a profile entry of its own in a bulk job, its meta beside the attributes', async () => {
    const { sent, ctx } = scripted();
    await eventCreate.send(items(ev({ uniqueId: 'e1' }), ev({ uniqueId: 'e2', patchProperties: { unappend: { tags: 'y' } } })), ctx);
    const entries = (sent[0].body as any).data.attributes['events-bulk-create'].data;
    expect(entries.map((e: any) => e.attributes.profile.data)).toEqual([
      { type: 'profile', attributes: { email: 'a@x.co' } },
      { type: 'profile', attributes: { email: 'a@x.co' }, meta: { patch_properties: { unappend: { tags: 'y' } } } },
    ]);
  });

  it('a refused request fails the group (the executor isolates it)', async () => {
    const { ctx } = scripted(() => new Error('refused'));
    await expect(eventCreate.send(items(ev(), ev({ uniqueId: 'e2' })), ctx)).rejects.toThrow('refused');
  });

  it('limits and grouping: ≤1000 a request, one group, patches alone, spread over requests, bulk only when several', () => {
    expect(eventCreate.kind).toBe('event.create');
    expect(eventCreate.maxItems).toBe(1000);
    expect(eventCreate.maxBytes).toBe(4_500_000);
    expect(eventCreate.groupKey(ev())).toBe('event.create');
    expect(eventCreate.standsAlone?.(ev())).toBe(false);
    expect(eventCreate.standsAlone?.(ev({ patchProperties: { unset: ['a'] } }))).toBe(true);
    expect(eventCreate.standsAlone?.(ev({ patchProperties: { unset: [] } }))).toBe(false);
    expect(eventCreate.spansRequests).toBe(true);
    expect(eventCreate.fillEndpoint([ev()])).toBeUndefined();
    expect(eventCreate.fillEndpoint([ev(), ev()])).toBe('bulkCreateEvents');
    expect(eventCreate.isolatesRefusals).toBe(true);
  });

  it('the kinds table names each module by its kind', () => {
    for (const [kind, mod] of Object.entries(KINDS)) expect(mod.kind).toBe(kind);
    expect(Object.keys(KINDS).sort()).toEqual(
      [
        'event.create',
        'list.remove',
        'profile.delete',
        'profile.upsert',
        'push-token.create',
        'catalog.write',
        'data-source.record',
        'subscription.subscribe',
        'subscription.unsubscribe',
      ].sort(),
    );
    expect(kindOf(ev())).toBe(eventCreate);
    expect(kindOf({ kind: 'profile.delete', profile: { email: 'a@x.co' } })).toBe(KINDS['profile.delete']);
  });
});
