import { afterEach, describe, expect, it } from 'vitest';
import { planWaves } from '../../batcher/index.js';
import { deliverWaves } from '../executor.js';
import { ListResolver } from '../list-resolver.js';
import { KlaviyoClient } from '../../klaviyo/client.js';
import { RateLimiter } from '../../klaviyo/limiter.js';
import { startEmulator } from '../../emulator/index.js';
import type { PlannedOperation } from '../../klaviyo/operations.js';

const events = (n: number, from = 0): PlannedOperation[] =>
  Array.from({ length: n }, (_, i) => ({
    messageId: `m${from + i}`,
    action: 'trackEvent',
    op: { kind: 'event.create', metric: 'Viewed', properties: { i: from + i }, uniqueId: `e${from + i}`, profile: { email: `u${from + i}@example.com` } },
  }));

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function setup(limiter?: RateLimiter) {
  const emu = await startEmulator({ rateLimits: false });
  const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url, ...(limiter ? { limiter } : {}) });
  closers.push(
    () => client.close(),
    () => emu.close(),
  );
  return { emu, deps: { transport: client, lists: new ListResolver(client), pollIntervalMs: 5 } };
}

describe('deliverWaves: part-full bulk requests under a backlog', () => {
  it('sends the full request and holds back the leftover of an overflowing group, without using an attempt', async () => {
    const { emu, deps } = await setup();
    const planned = events(1200);
    const outcomes = await deliverWaves(planWaves(planned), deps);
    const held = planned.filter((p) => outcomes.get(p)?.status === 'retry');
    expect(held).toHaveLength(200);
    expect(
      held.every((p) => {
        const o = outcomes.get(p);
        return o?.status === 'retry' && o.retryAfterMs === 0;
      }),
    ).toBe(true);
    expect(emu.snapshot().requests.byEndpoint).toEqual({ bulkCreateEvents: 1 });
    expect(emu.snapshot().events).toHaveLength(1000);
  });

  it('sends a part-full request at once when there is no backlog and the limiter has a slot', async () => {
    const { emu, deps } = await setup();
    const planned = events(300);
    const outcomes = await deliverWaves(planWaves(planned), deps);
    expect(planned.every((p) => outcomes.get(p)?.status === 'delivered')).toBe(true);
    expect(emu.snapshot().events).toHaveLength(300);
  });

  it('holds back a part-full request while the endpoint has no rate-limit slot, and says for how long', async () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ now: () => now });
    for (let i = 0; i < 10; i++) limiter.tryTake('bulkCreateEvents'); // M tier: the burst of 10 is spent
    const { emu, deps } = await setup(limiter);
    const planned = events(50);
    const outcomes = await deliverWaves(planWaves(planned), deps);
    const o = outcomes.get(planned[0]);
    expect(o?.status).toBe('retry');
    expect(o?.status === 'retry' && o.retryAfterMs).toBeGreaterThan(1000);
    expect(emu.snapshot().requests.total).toBe(0);
    now += 2000;
    const again = await deliverWaves(planWaves(planned), deps);
    expect(planned.every((p) => again.get(p)?.status === 'delivered')).toBe(true);
  });
});
