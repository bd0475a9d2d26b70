/**
 * Klaviyo's `backfill` on events: old events (a warehouse load, a replayed dead letter, a mobile event sent days
 * late) are recorded without triggering flows. Decided when the event is sent, from its age then.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSync } from '../src/sync/run.js';
import { fromModel } from '../src/sync/model.js';
import { compileDestination } from '../src/destination/index.js';
import { previewMessage } from '../src/preview/index.js';
import { validateStrict } from './helpers/klaviyo-validate.js';
import { syncService, type Emulator } from './helpers/sync-service.js';

const { tmp, service } = syncService('backfill', 'pk_backfill');

const DAY = 86_400_000;
const lastYear = new Date(Date.now() - 365 * DAY).toISOString();
const today = new Date(Date.now() - 3600_000).toISOString();

function orders(file: string) {
  writeFileSync(file, ['id,email,total,ordered_at', `1,old@example.com,10,${lastYear}`, `2,new@example.com,20,${today}`].join('\n') + '\n');
}

const model = (file: string, backfill?: boolean) =>
  fromModel({
    name: 'orders',
    source: { csv: file },
    primaryKey: 'id',
    subscriptions: [{ on: ['added', 'updated'], partnerAction: 'trackEvent', eventName: 'Placed Order', timeColumn: 'ordered_at', backfill }],
  });

/** Each synced event's profile email → whether the emulator recorded it as a backfill (and so triggered no flow). */
function backfilled(e: Emulator) {
  const s = e.snapshot();
  return Object.fromEntries(
    s.events.map((ev) => [
      s.profiles.find((p) => p.id === ev.profile_id)!.attributes.email,
      { backfill: ev.backfill ?? false, flows: ev.flows_triggered ?? true },
    ]),
  );
}

describe('backfill', () => {
  it('synced events dated last year go as backfills (no flow), events from today do not', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'orders.csv');
    orders(file);
    expect(await runSync({ store, model: model(file), destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 2, delivered: 2, failed: 0 });
    expect(backfilled(emu)).toEqual({ 'old@example.com': { backfill: true, flows: false }, 'new@example.com': { backfill: false, flows: true } });
  });

  it('the sync flag forces it on or off, whatever the age', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'orders.csv');
    orders(file);
    await runSync({ store, model: model(file, true), destination: 'klaviyo', pollMs: 20 });
    expect(backfilled(emu)).toEqual({ 'old@example.com': { backfill: true, flows: false }, 'new@example.com': { backfill: true, flows: false } });
    emu.reset();
    await runSync({ store, model: { ...model(file, false), name: 'orders-again' }, destination: 'klaviyo', pollMs: 20 });
    expect(backfilled(emu)).toEqual({ 'old@example.com': { backfill: false, flows: true }, 'new@example.com': { backfill: false, flows: true } });
  });

  it('backfillAfterHours: 0 turns it off; a smaller threshold catches events a few hours old', async () => {
    const { store, emu } = await service({ settings: { backfillAfterHours: 0 } });
    const file = join(tmp(), 'orders.csv');
    orders(file);
    await runSync({ store, model: model(file), destination: 'klaviyo', pollMs: 20 });
    expect(backfilled(emu)).toEqual({ 'old@example.com': { backfill: false, flows: true }, 'new@example.com': { backfill: false, flows: true } });

    const half = compileDestination({ settings: { backfillAfterHours: 0.5 } });
    const r = await previewMessage(half, { type: 'track', event: 'Viewed', userId: 'u1', messageId: 'm1', timestamp: today });
    expect(r.requests[0].body).toMatchObject({ data: { attributes: { backfill: true } } });
    expect(() => compileDestination({ settings: { backfillAfterHours: -1 } })).toThrow(/backfillAfterHours/);
    expect(() => compileDestination({ preset: 'rudderstack', settings: { backfillAfterHours: 'soon' as unknown as number } })).toThrow(
      /backfillAfterHours must be a number/,
    );
  });

  it('preview shows it: a replayed week-old event (one and several, every request valid), not a fresh one', async () => {
    const dest = compileDestination({});
    const weekOld = new Date(Date.now() - 7 * DAY).toISOString();
    const old = await previewMessage(dest, { type: 'track', event: 'Viewed', userId: 'u1', messageId: 'm1', timestamp: weekOld });
    const fresh = await previewMessage(dest, { type: 'track', event: 'Viewed', userId: 'u1', messageId: 'm2', timestamp: new Date().toISOString() });
    expect(old.requests).toHaveLength(1);
    expect(old.requests[0].body).toMatchObject({ data: { attributes: { backfill: true, time: weekOld } } });
    expect((fresh.requests[0].body as any).data.attributes).not.toHaveProperty('backfill');
    // An order: its product events are backfills as the order is, in one bulk request.
    const order = await previewMessage(dest, {
      type: 'track',
      event: 'Order Completed',
      userId: 'u1',
      messageId: 'm3',
      timestamp: weekOld,
      properties: { order_id: 'o1', total: 30, products: [{ product_id: 'p1', price: 10 }] },
    });
    const events = (order.requests[0].body as any).data.attributes['events-bulk-create'].data[0].attributes.events.data;
    expect(events.map((e: any) => e.attributes.backfill)).toEqual([true, true]);
    for (const r of [...old.requests, ...fresh.requests, ...order.requests]) expect(validateStrict(r).errors).toEqual([]);
  });
});
