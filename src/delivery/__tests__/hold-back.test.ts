/**
 * Part-full bulk requests held back for their endpoint's next slot (src/delivery/executor.ts holdBack): their
 * messages are back in the queue in time for that slot, the slot is not taken by a cycle that leased without them,
 * and a loop does not lease and plan again, only to hold back again, before the slot comes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tempSqliteStore } from '../../../test/helpers/sqlite-store.js';
import { parseConfig } from '../../config/index.js';
import { compileDestination } from '../../destination/index.js';
import { planWaves } from '../../batcher/index.js';
import type { PlannedOperation } from '../../klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../../klaviyo/request.js';
import type { EndpointName } from '../../klaviyo/endpoints.js';
import { deliverWaves } from '../executor.js';
import { ListResolver } from '../list-resolver.js';
import { DeliveryWorker, type DeliveryMetrics } from '../worker.js';
import { until } from '../../../test/helpers/until.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const track = (i: number) => ({
  messageId: `t${i}`,
  partitionKey: `u${i}`,
  payload: { type: 'track', event: 'Viewed', userId: `u${i}`, messageId: `t${i}`, context: { traits: { email: `u${i}@x.co` } } },
});

/** A transport whose bulk event endpoint has its next slot at `slotAt` (epoch ms); it records what was sent. */
function slotted(slotAt: () => number, answer: (r: KlaviyoRequest) => Promise<void> = async () => {}) {
  const sent: KlaviyoRequest[] = [];
  const transport: KlaviyoTransport = {
    waitMs: (e: EndpointName) => (e === 'bulkCreateEvents' ? Math.max(0, slotAt() - Date.now()) : 0),
    async send(r) {
      sent.push(r);
      await answer(r);
      return { status: 202, headers: {}, body: undefined };
    },
  };
  return { sent, transport };
}

const storeFor = () => tempSqliteStore(closers);

const options = (delivery: object) => parseConfig({ destinations: [{ delivery }] }).destinations[0].delivery;

describe('held back for a slot', () => {
  it('messages held back go back to the queue at once, not once the cycle’s other requests are answered', async () => {
    const store = await storeFor();
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    // The event endpoint's slot is 300 ms away; the profile import is answered only when the test says.
    const slotAt = Date.now() + 300;
    const { sent, transport } = slotted(
      () => slotAt,
      (r) => (r.path.includes('profile') ? answered : Promise.resolve()),
    );
    const worker = new DeliveryWorker({
      name: 'k',
      store,
      destination: compileDestination({}),
      transport,
      lists: new ListResolver(transport),
      options: options({}),
      owner: 'w1',
    });
    await store.enqueue('k', [
      { messageId: 'i1', partitionKey: 'u1', payload: { type: 'identify', userId: 'u1', messageId: 'i1', traits: { email: 'u1@x.co' } } },
      track(2),
      track(3),
    ]);
    await until(
      () => store.messageState('k', 't3'),
      (s) => s?.state === 'queued',
    );
    const cycle = worker.cycle();
    await until(
      () => sent.length,
      (n) => n === 1,
    );
    // The import is still unanswered: the held-back tracks can be leased for their slot already.
    const again = await store.lease('k', { limit: 10, leaseMs: 60_000, owner: 'w2', now: slotAt + 1 });
    answer();
    await cycle;
    expect(sent.map((r) => r.path)).toEqual(['/api/profile-import']);
    expect(again.map((m) => m.messageId).sort()).toEqual(['t2', 't3']);
  });

  it('a loop that held back all it leased leases nothing more before the slot, though poked; then one request carries all', async () => {
    const store = await storeFor();
    const slotAt = Date.now() + 600;
    const { sent, transport } = slotted(() => slotAt);
    const batches: number[] = [];
    const metrics: DeliveryMetrics = { settled() {}, warnings() {}, batch: (_d, messages) => void batches.push(messages) };
    const worker = new DeliveryWorker({
      name: 'k',
      store,
      destination: compileDestination({}),
      transport,
      lists: new ListResolver(transport),
      options: options({ concurrency: 1, flushIntervalMs: 10 }),
      owner: 'w1',
      metrics,
    });
    closers.push(() => worker.stop());
    await store.enqueue('k', [track(1), track(2)]); // two: one event alone goes to the single-event endpoint
    worker.start();
    await until(
      () => batches.length,
      (n) => n === 1,
    );
    await store.enqueue('k', [track(3)]);
    await until(
      () => store.messageState('k', 't3'),
      (s) => s?.state === 'queued',
    );
    worker.poke();
    await until(
      () => Promise.all(['t1', 't2', 't3'].map((id) => store.messageState('k', id))),
      (s) => s.every((m) => m === undefined),
    );
    // One cycle held t1 and t2 back; the next, at the slot, planned all three and sent them in one request.
    expect(batches).toEqual([2, 3]);
    expect(sent).toHaveLength(1);
    expect(JSON.stringify(sent[0].body).match(/"unique_id"/g)).toHaveLength(3);
  });
});

describe('holdBack with the cycles’ shared state (fill)', () => {
  const events = (n: number): PlannedOperation[] =>
    Array.from({ length: n }, (_, i) => ({
      messageId: `e${i}`,
      action: 'trackEvent',
      op: { kind: 'event.create', metric: 'Viewed', properties: {}, uniqueId: `e${i}`, profile: { email: `e${i}@x.co` } },
    }));

  it('a cycle that leased before held-back operations were back in the queue holds back too, though the slot is free', async () => {
    const { sent, transport } = slotted(() => 0);
    const deps = { transport, lists: new ListResolver(transport) };
    const heldUntil = new Map<EndpointName, number>([['bulkCreateEvents', Date.now() + 200]]);
    const planned = events(3);
    const early = await deliverWaves(planWaves(planned), { ...deps, fill: { leasedAt: Date.now() - 50, heldUntil } });
    expect(planned.map((p) => early.get(p)?.status)).toEqual(['retry', 'retry', 'retry']);
    expect(sent).toEqual([]);
    // Leased once they were back: the request goes, and carries them.
    const late = await deliverWaves(planWaves(planned), { ...deps, fill: { leasedAt: heldUntil.get('bulkCreateEvents')!, heldUntil } });
    expect(planned.map((p) => late.get(p)?.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(sent).toHaveLength(1);
  });

  it('a leftover held back to fill the next request (0 ms) holds back no other cycle: it is leasable at once', async () => {
    const { sent, transport } = slotted(() => 0);
    const heldUntil = new Map<EndpointName, number>();
    const planned = events(1200);
    const outcomes = await deliverWaves(planWaves(planned), { transport, lists: new ListResolver(transport), fill: { leasedAt: Date.now(), heldUntil } });
    expect(planned.filter((p) => outcomes.get(p)?.status === 'retry')).toHaveLength(200);
    expect(sent).toHaveLength(1);
    expect(heldUntil.size).toBe(0);
  });

  it('holding back for the slot tells the other cycles until when', async () => {
    const slotAt = Date.now() + 300;
    const { transport } = slotted(() => slotAt);
    const heldUntil = new Map<EndpointName, number>();
    await deliverWaves(planWaves(events(2)), { transport, lists: new ListResolver(transport), fill: { leasedAt: Date.now(), heldUntil } });
    expect(heldUntil.get('bulkCreateEvents')).toBeGreaterThanOrEqual(slotAt - 5);
  });
});
